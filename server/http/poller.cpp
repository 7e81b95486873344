// SPDX-License-Identifier: Apache-2.0
#include "http/poller.h"

#include <QSocketNotifier>
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <unistd.h>
#include <utility>

namespace sluice {

struct ConnectionPoller::Ready
{
    epoll_event events[64];
    int count = 0;
    Ready *outer = nullptr; // a batch under way further up the stack (a nested event loop)
};

ConnectionPoller::ConnectionPoller(QObject *parent) : QObject(parent), m_epoll(::epoll_create1(EPOLL_CLOEXEC))
{
    if (m_epoll < 0)
        qFatal("epoll_create1: %s", std::strerror(errno)); // (only when the process is out of descriptors or memory)
    m_notifier = new QSocketNotifier(m_epoll, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &ConnectionPoller::onReady);
}

ConnectionPoller::~ConnectionPoller()
{
    m_notifier->setEnabled(false);
    ::close(m_epoll);
}

bool ConnectionPoller::watch(int fd, Client *client, bool read, bool write, bool wasRead, bool wasWrite)
{
    if (read == wasRead && write == wasWrite)
        return true;
    epoll_event e{};
    e.events = (read ? EPOLLIN | EPOLLRDHUP : 0u) | (write ? EPOLLOUT : 0u) | EPOLLET;
    e.data.ptr = client;
    const bool was = wasRead || wasWrite, is = read || write;
    const int op = !is ? EPOLL_CTL_DEL : was ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    const bool ok = ::epoll_ctl(m_epoll, op, fd, &e) == 0;
    if (!ok)
        qWarning("epoll_ctl(%d) on socket %d: %s", op, fd, std::strerror(errno));
    if (!is)
        forget(client); // (an event of this turn for it is stale now)
    return ok;
}

void ConnectionPoller::forget(Client *client)
{
    for (Ready *ready = m_ready; ready; ready = ready->outer) {
        for (int i = 0; i < ready->count; ++i) {
            if (ready->events[i].data.ptr == client)
                ready->events[i].data.ptr = nullptr;
        }
    }
}

void ConnectionPoller::onReady()
{
    // A few rounds a turn of Qt's loop: under load, answering one round's sockets has let the next
    // requests come, and a round costs an epoll_wait where a turn costs a ppoll and Qt's timers
    // and posted events (which wait at most kRounds rounds).
    for (int round = 0; round < kRounds; ++round) {
        if (!handOut())
            return;
    }
}

bool ConnectionPoller::handOut()
{
    Ready ready;
    ready.count = ::epoll_wait(m_epoll, ready.events, 64, 0);
    if (ready.count <= 0)
        return false;
    ready.outer = std::exchange(m_ready, &ready);
    for (int i = 0; i < ready.count; ++i) {
        // Read before write, as Qt's dispatcher does; a client gone meanwhile is skipped (forget).
        // (A hang-up or an error goes to what the client watches: its next call finds it.)
        const epoll_event &e = ready.events[i];
        const bool hangUp = e.events & (EPOLLERR | EPOLLHUP);
        // The peer's end (or an error): a short read no longer means "nothing more", the end is
        // still to be read (edge-triggered, no second event would say so).
        if (e.data.ptr && (e.events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
            static_cast<Client *>(e.data.ptr)->socketEnded();
        if (e.data.ptr && (e.events & (EPOLLIN | EPOLLRDHUP) || hangUp))
            static_cast<Client *>(e.data.ptr)->socketReadable();
        if (e.data.ptr && (e.events & EPOLLOUT || hangUp))
            static_cast<Client *>(e.data.ptr)->socketWritable();
    }
    m_ready = ready.outer;
    return true;
}

} // namespace sluice
