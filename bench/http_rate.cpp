// SPDX-License-Identifier: Apache-2.0
// Latency at a set rate (open loop): POST /rate-limit/check with the anchors' request (users
// u0..u999 of enterprise_co on gpt-4o, premium) at `rate` requests per second, evenly spaced.
// Request k is due at start + k/rate whatever happened before: it goes out on the first idle
// keep-alive connection, and when none is idle it waits — its latency still counts from when it
// was due. A slow server therefore cannot slow the load down and hide its own latency (the
// "coordinated omission" of closed-loop tools such as wrk, whose paced runs also send in bursts on
// their millisecond timers). wrk2 does the same, but it is not in Debian.
// Bounded: `seconds` of sending, then at most 2 s for the answers still out. A request not answered
// by then (or lost with a connection that broke mid-answer) counts in the percentiles with the time
// it had waited; one whose connection closed before any of its answer is sent again (its latency
// still from when it was due), as HTTP clients do when a server ends a keep-alive connection.
// Run: build/bench/sluice-http-rate <port> <rate> [seconds=10] [connections=32] [path=/rate-limit/check]
// Prints: rate aimed=… sent=… answered=… achieved_per_s=… p50_ms p90_ms p99_ms p999_ms max_ms
//         (due at: when the slowest one was due, s after the start) non_2xx=… errors=… unanswered=…
//         not_sent=… sent_again=… reconnects=… waited_for_a_connection=…
//         Exit status 1 when a request went unanswered or failed, or a connection could not be made.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Connection
{
    int fd = -1;
    bool busy = false;
    int64_t dueNs = 0;   // when its request in flight was due
    std::string out;     // what is still to be written
    std::string in;      // what has been read of the answer
};

int connectTo(uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int flags = 1;
    ::ioctl(fd, FIONBIO, &flags);
    return fd;
}

// The length of a complete answer at the front of `in` (headers and Content-Length body), 0 when
// more is needed, -1 when it is not HTTP; *status: its status code.
long completeAnswer(const std::string &in, int *status)
{
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos)
        return 0;
    if (in.compare(0, 9, "HTTP/1.1 ") != 0 && in.compare(0, 9, "HTTP/1.0 ") != 0)
        return -1;
    *status = std::atoi(in.c_str() + 9);
    long length = 0;
    for (size_t line = in.find("\r\n") + 2; line < end;) {
        const size_t next = in.find("\r\n", line);
        static const char name[] = "content-length:";
        if (next - line > sizeof name - 1 && strncasecmp(in.c_str() + line, name, sizeof name - 1) == 0)
            length = std::atol(in.c_str() + line + sizeof name - 1);
        line = next + 2;
    }
    const long total = static_cast<long>(end + 4) + length;
    return static_cast<long>(in.size()) >= total ? total : 0;
}

std::string requestFor(long n, const char *path)
{
    char body[160];
    const int length = std::snprintf(body, sizeof body,
                                     "{\"userId\":\"u%ld\",\"modelId\":\"gpt-4o\",\"tenantId\":\"enterprise_co\",\"modelTier\":\"premium\"}",
                                     n % 1000);
    char head[256];
    std::snprintf(head, sizeof head,
                  "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path,
                  length);
    return std::string(head) + std::string(body, static_cast<size_t>(length));
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN); // a server that goes away is an error to count, not the end of the tool
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <port> <rate> [seconds=10] [connections=32] [path=/rate-limit/check]\n", argv[0]);
        return 2;
    }
    const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
    const double rate = std::atof(argv[2]);
    const double seconds = argc > 3 ? std::atof(argv[3]) : 10.0;
    const int connections = argc > 4 ? std::atoi(argv[4]) : 32;
    const char *path = argc > 5 ? argv[5] : "/rate-limit/check";
    if (port == 0 || rate <= 0 || seconds <= 0 || connections < 1 || connections > 10000) {
        std::fprintf(stderr, "bad arguments\n");
        return 2;
    }
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<Connection> conns(static_cast<size_t>(connections));
    std::vector<size_t> idle;
    // What epoll watches on a connection: its answer, and writability while some of its request
    // is still unsent.
    auto watch = [&](size_t i, int op) {
        epoll_event e{};
        e.events = conns[i].out.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT;
        e.data.u64 = i;
        ::epoll_ctl(ep, op, conns[i].fd, &e);
    };
    // Writes what the socket takes of the request (watchingOut: whether writability is watched now).
    auto writeSome = [&](size_t i, bool watchingOut) {
        Connection &c = conns[i];
        const ssize_t n = ::write(c.fd, c.out.data(), c.out.size());
        if (n > 0)
            c.out.erase(0, static_cast<size_t>(n));
        if (c.out.empty() == watchingOut)
            watch(i, EPOLL_CTL_MOD);
    };
    auto open = [&](size_t i) {
        conns[i].fd = connectTo(port);
        if (conns[i].fd >= 0)
            watch(i, EPOLL_CTL_ADD);
        return conns[i].fd >= 0;
    };
    for (size_t i = 0; i < conns.size(); ++i) {
        if (!open(i)) {
            std::fprintf(stderr, "cannot connect to 127.0.0.1:%u: %s\n", port, std::strerror(errno));
            return 1;
        }
        idle.push_back(i);
    }
    const long total = static_cast<long>(rate * seconds);
    const double intervalNs = 1e9 / rate;
    std::vector<int64_t> latencies;
    latencies.reserve(static_cast<size_t>(total));
    std::vector<int64_t> waiting; // due times of requests with no idle connection yet (FIFO)
    size_t waitingFront = 0;
    long sent = 0, next = 0, non2xx = 0, errors = 0, waited = 0, retried = 0, reconnects = 0;
    int64_t lastAnswer = 0;
    int64_t worst = -1, worstDue = 0; // the slowest answer and when its request was due
    const int64_t start = nowNs() + 1'000'000;
    const int64_t deadline = start + static_cast<int64_t>(seconds * 1e9) + 2'000'000'000;
    std::vector<epoll_event> events(conns.size());

    long busy = 0;       // connections with a request out
    long usable = connections;
    std::vector<int64_t> lost; // due times of requests whose connection broke (failed)

    auto send = [&](size_t i, int64_t due) {
        Connection &c = conns[i];
        c.busy = true;
        ++busy;
        c.dueNs = due;
        c.out = requestFor(sent++, path);
        writeSome(i, false);
    };
    // A connection free again: the oldest waiting request goes on it, or it waits for the next.
    auto release = [&](size_t i) {
        if (waitingFront < waiting.size())
            send(i, waiting[waitingFront++]);
        else
            idle.push_back(i);
    };
    // A connection the server closed or that broke: replaced. Its request, if any, is sent again
    // when nothing of its answer had come, and failed (an error) otherwise.
    auto fail = [&](size_t i) {
        Connection &c = conns[i];
        ++reconnects;
        idle.erase(std::remove(idle.begin(), idle.end(), i), idle.end()); // (an idle one the server closed)
        if (c.busy) {
            --busy;
            if (c.in.empty()) { // closed before any of its answer (a keep-alive connection the server
                ++retried;      // ended, as nginx does after 1,000 requests): sent again, first
                if (waitingFront > 0)
                    waiting[--waitingFront] = c.dueNs;
                else
                    waiting.insert(waiting.begin(), c.dueNs);
            } else {
                lost.push_back(c.dueNs);
                ++errors;
            }
        }
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c = Connection{};
        if (!open(i)) {
            ++errors;
            --usable;
            return;
        }
        release(i);
    };

    int64_t end = 0;
    for (;;) {
        int64_t now = nowNs();
        while (next < total && start + static_cast<int64_t>(static_cast<double>(next) * intervalNs) <= now) {
            const int64_t due = start + static_cast<int64_t>(static_cast<double>(next++) * intervalNs);
            if (!idle.empty()) {
                const size_t i = idle.back();
                idle.pop_back();
                send(i, due);
            } else {
                waiting.push_back(due);
                ++waited;
            }
        }
        end = now;
        if ((next >= total && busy == 0 && waitingFront == waiting.size()) || now > deadline || usable == 0)
            break;
        int64_t waitNs = next < total ? start + static_cast<int64_t>(static_cast<double>(next) * intervalNs) - now : deadline - now;
        waitNs = std::max<int64_t>(0, std::min<int64_t>(waitNs, 100'000'000));
        const timespec timeout{static_cast<time_t>(waitNs / 1'000'000'000), static_cast<long>(waitNs % 1'000'000'000)};
        const int ready = ::epoll_pwait2(ep, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
        if (ready < 0 && errno != EINTR) {
            std::fprintf(stderr, "epoll_pwait2: %s\n", std::strerror(errno));
            return 1;
        }
        now = nowNs();
        for (int r = 0; r < ready; ++r) {
            const size_t i = events[static_cast<size_t>(r)].data.u64;
            Connection &c = conns[i];
            if (c.fd < 0)
                continue;
            if (events[static_cast<size_t>(r)].events & EPOLLOUT)
                writeSome(i, true);
            if (!(events[static_cast<size_t>(r)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            char buffer[16384];
            const ssize_t n = ::read(c.fd, buffer, sizeof buffer);
            if (n <= 0) {
                if (n < 0 && errno == EAGAIN)
                    continue;
                fail(i);
                continue;
            }
            c.in.append(buffer, static_cast<size_t>(n));
            int status = 0;
            const long length = completeAnswer(c.in, &status);
            if (length < 0 || (length > 0 && !c.busy)) { // not HTTP, or an answer nobody asked for
                ++errors;
                fail(i);
                continue;
            }
            if (length == 0)
                continue;
            c.in.erase(0, static_cast<size_t>(length));
            latencies.push_back(now - c.dueNs);
            lastAnswer = now;
            if (now - c.dueNs > worst) {
                worst = now - c.dueNs;
                worstDue = c.dueNs;
            }
            if (status < 200 || status > 299)
                ++non2xx;
            c.busy = false;
            --busy;
            release(i);
        }
    }
    const size_t answered = latencies.size();
    const double elapsed = static_cast<double>(lastAnswer - start) / 1e9;
    // Not answered by the end (still out, never sent, or lost with a connection): counted with the
    // time they had waited by then, a lower bound, so that a server that stops answering cannot
    // leave only its fast answers in the percentiles.
    long unanswered = 0;
    auto unansweredAt = [&](int64_t due) {
        latencies.push_back(std::max<int64_t>(0, end - due));
        ++unanswered;
    };
    for (const Connection &c : conns) {
        if (c.fd >= 0 && c.busy)
            unansweredAt(c.dueNs);
    }
    for (size_t w = waitingFront; w < waiting.size(); ++w)
        unansweredAt(waiting[w]);
    for (int64_t due : lost)
        unansweredAt(due);
    const long neverDue = total - next; // the run ended early (no connection left): not counted
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double q) {
        if (latencies.empty())
            return 0.0;
        const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies.size())));
        return ms(latencies[std::min(latencies.size() - 1, rank == 0 ? 0 : rank - 1)]);
    };
    std::printf("rate aimed=%.0f sent=%ld answered=%zu achieved_per_s=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
                "max_ms=%.3f (due at %.2f s) non_2xx=%ld errors=%ld unanswered=%ld not_sent=%ld sent_again=%ld reconnects=%ld waited_for_a_connection=%ld\n",
                rate, sent, answered, elapsed > 0 ? static_cast<double>(answered) / elapsed : 0.0, pct(0.50), pct(0.90), pct(0.99),
                pct(0.999), latencies.empty() ? 0.0 : ms(latencies.back()),
                worst >= 0 ? static_cast<double>(worstDue - start) / 1e9 : 0.0, non2xx, errors, unanswered, neverDue, retried, reconnects, waited);
    for (Connection &c : conns) {
        if (c.fd >= 0)
            ::close(c.fd);
    }
    ::close(ep);
    return unanswered == 0 && neverDue == 0 && errors == 0 ? 0 : 1;
}
