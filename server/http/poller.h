// SPDX-License-Identifier: Apache-2.0
// One epoll set per listening server (an HTTP thread's) for its connections' sockets. Qt's event
// loop watches the set's descriptor (one QSocketNotifier); when it is ready, the ready connections
// are called directly.
// With a QSocketNotifier per connection, every ready socket cost an event, a signal and a slot
// call, and every turn of the loop a poll over every connection's socket (issue 24's profile:
// 7 % of a check); here it is an epoll_wait per round of ready sockets (up to kRounds a turn) and a
// direct call per ready socket.
//
// Edge-triggered: a connection is called when bytes come (or room to write), not again for bytes it
// left unread. So a watcher reads until the kernel has no more (a short read) or stops watching
// (then watching again reports what waits at once: epoll checks the socket when its interest is
// set; the peer's end is told apart, as it comes with bytes in one event). Level-triggered, every
// epoll_wait looked again at every socket it had reported before.
// A connection watches for reading, writing, both or neither (it is then out of the set: a
// socket's hang-up is reported even to no interest).
#pragma once

#include "http/layer.h"

#include <QObject>

class QSocketNotifier;

namespace sluice {

class ConnectionPoller : public QObject
{
public:
    // What a watched socket's owner is told.
    class Client
    {
    public:
        virtual void socketReadable() = 0;
        virtual void socketWritable() = 0;
        // The peer shut down its sending side, or the socket failed: read until recv says so
        // (before socketReadable of the same event).
        virtual void socketEnded() = 0;

    protected:
        ~Client() = default;
    };

    explicit ConnectionPoller(QObject *parent = nullptr);
    ~ConnectionPoller() override;

    // Watches `fd` for `client` (read, write, both, or neither: out of the set). Changes only
    // when asked for a change; the descriptor must leave (watch(fd, …, false, false)) before it
    // is closed. False when the kernel refused (out of memory, or of epoll watches): the socket
    // would never be reported, its owner gives it up.
    bool watch(int fd, Client *client, bool read, bool write, bool wasRead, bool wasWrite);
    // A client that is going away: no event of the turn in progress reaches it any more.
    void forget(Client *client);

private:
    static constexpr int kRounds = 4;
    void onReady();
    bool handOut(); // one epoll_wait's events to their clients; false when there were none

    int m_epoll = -1;
    QSocketNotifier *m_notifier = nullptr;
    // The turn in progress: its events, and how many are still to be handed out.
    struct Ready;
    Ready *m_ready = nullptr;
};

} // namespace sluice
