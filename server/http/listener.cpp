// SPDX-License-Identifier: Apache-2.0
#include "http/listener.h"

#include "http/httpapi.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice {

int openListeningSocket(const QHostAddress &address, quint16 port, bool reusePort, quint16 *boundPort, QString *error)
{
    const bool v6 = address.protocol() == QAbstractSocket::IPv6Protocol;
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (v6) {
        auto *sa = reinterpret_cast<sockaddr_in6 *>(&storage);
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        const Q_IPV6ADDR a = address.toIPv6Address();
        std::memcpy(&sa->sin6_addr, &a, 16);
        length = sizeof(sockaddr_in6);
    } else {
        auto *sa = reinterpret_cast<sockaddr_in *>(&storage);
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        sa->sin_addr.s_addr = htonl(address.toIPv4Address());
        length = sizeof(sockaddr_in);
    }
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = QString::fromLocal8Bit(std::strerror(errno));
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reusePort)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&storage), length) != 0 || ::listen(fd, 1024) != 0) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        ::close(fd);
        *error = QStringLiteral("cannot listen on %1:%2: %3").arg(address.toString()).arg(port).arg(why);
        return -1;
    }
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &boundLength);
    *boundPort = ntohs(v6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
    return fd;
}

GuardedTcpServer::GuardedTcpServer(HttpApi *api, ConnectionLimits limits)
    : QTcpServer(api), m_api(api), m_limits(limits)
{
}

GuardedTcpServer::~GuardedTcpServer()
{
    // The connections first: each leaves the poller's set as it goes.
    // (dynamic_cast: HttpConnection has no meta-object of its own, and the server has other children.)
    const QObjectList children = this->children();
    for (QObject *child : children)
        delete dynamic_cast<HttpConnection *>(child);
}

void GuardedTcpServer::incomingConnection(qintptr descriptor)
{
    if (!m_poller)
        m_poller = std::make_unique<ConnectionPoller>();
    new HttpConnection(descriptor, m_api, m_limits, m_poller.get(), this); // it deletes itself when done
}

} // namespace sluice
