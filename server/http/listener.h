// SPDX-License-Identifier: Apache-2.0
// The listening side: a socket bound by hand (so that several threads' servers can share one port
// with SO_REUSEPORT, which QTcpServer cannot set), adopted by a QTcpServer that hands every
// connection to an HttpConnection of its HttpApi.
#pragma once

#include "http/layer.h"

#include "http/httpconnection.h"
#include "http/poller.h"

#include <QHostAddress>
#include <QTcpServer>
#include <memory>

namespace sluice {

// A non-blocking listening socket on address:port (SO_REUSEADDR, and SO_REUSEPORT when asked);
// -1 and *error when it cannot. *boundPort: the port it got (for port 0).
int openListeningSocket(const QHostAddress &address, quint16 port, bool reusePort, quint16 *boundPort, QString *error);

class HttpApi;

class GuardedTcpServer : public QTcpServer
{
public:
    GuardedTcpServer(HttpApi *api, ConnectionLimits limits);
    ~GuardedTcpServer() override;

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    HttpApi *m_api;
    ConnectionLimits m_limits;
    // Made on this server's thread with its first connection; goes after the connections it watches.
    std::unique_ptr<ConnectionPoller> m_poller;
};

} // namespace sluice
