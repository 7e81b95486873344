// SPDX-License-Identifier: Apache-2.0
// The listening side: a socket bound by hand (so that several threads' servers can share one port
// with SO_REUSEPORT, which QTcpServer cannot set), adopted by a QTcpServer that puts a
// FramingGuard on every connection before Qt's HTTP parser sees it.
#pragma once

#include "http/layer.h"

#include "http/framingguard.h"

#include <QHostAddress>
#include <QTcpServer>

namespace sluice {

// A non-blocking listening socket on address:port (SO_REUSEADDR, and SO_REUSEPORT when asked);
// -1 and *error when it cannot. *boundPort: the port it got (for port 0).
int openListeningSocket(const QHostAddress &address, quint16 port, bool reusePort, quint16 *boundPort, QString *error);

class GuardedTcpServer : public QTcpServer
{
public:
    GuardedTcpServer(QObject *httpServer, ConnectionTimeouts timeouts);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    QObject *m_httpServer;
    ConnectionTimeouts m_timeouts;
};

} // namespace sluice
