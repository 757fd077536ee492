// C++ tests of the header-only wrapper include/redlead.hpp against real
// redis-server nodes. Usage: test_cpp URL...
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "redlead.hpp"
#include "test_common.h"

using namespace std::chrono_literals;

template <class F>
static bool eventually(F f, int ms) {
    for (int i = 0; i < ms / 10; i++) {
        if (f()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return f();
}

int main(int argc, char **argv) {
    std::vector<std::string> urls(argv + 1, argv + argc);
    redlead::Options opts;
    opts.retry_delay = 2ms;
    opts.retry_jitter = 5ms;
    redlead::Client client(urls, opts);

    {
        auto lock = client.try_acquire("cpp-rt", 10s);
        CHECK("cpp_try_acquire_gives_a_lock", bool(lock) && lock.is_held() && lock.validity() > 9s);
        auto again = client.try_acquire("cpp-rt", 10s);
        CHECK("cpp_held_lock_gives_empty_lock", !again);
        lock.extend(20s);
        CHECK("cpp_extend", lock.validity() > 15s && lock.extensions() == 1);
        lock.release();
        CHECK("cpp_released_lock_is_not_held", bool(lock) && !lock.is_held());
        bool closed = false;
        try {
            lock.release();
        } catch (const redlead::Error &e) {
            closed = e.status() == REDLEAD_ERR_CLOSED && std::string(e.what()).size() > 0;
        }
        CHECK("cpp_release_twice_throws_closed", closed);
    }
    {
        { auto scoped = client.try_acquire("cpp-scope", 10s); }
        auto after = client.try_acquire("cpp-scope", 10s);
        CHECK("cpp_lock_destructor_releases", bool(after));
    }
    {
        redlead::LockOptions fenced;
        fenced.fenced = true;
        auto a = client.try_acquire("cpp-fence", 5s, fenced);
        uint64_t t1 = a.fencing_token();
        a.release();
        auto b = client.try_acquire("cpp-fence", 5s, fenced);
        CHECK("cpp_fencing_tokens_increase", t1 > 0 && b.fencing_token() > t1);
    }
    {
        long counter = 0;
        std::atomic<int> errors{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; t++)
            ts.emplace_back([&] {
                for (int i = 0; i < 10; i++) {
                    auto l = client.acquire("cpp-counter", 5s, 20s);
                    if (!l) { errors++; continue; }
                    long v = counter;
                    std::this_thread::sleep_for(1ms);
                    counter = v + 1;
                }
            });
        for (auto &t : ts) t.join();
        CHECK("cpp_mutual_exclusion_loses_no_update", counter == 40 && errors == 0);
    }
    {
        bool invalid = false;
        try {
            redlead::Client bad({"not a url"});
        } catch (const redlead::Error &e) {
            printf("  bad URL -> %d: %s\n", e.status(), e.what());
            invalid = e.status() == REDLEAD_ERR_INVALID_ARGUMENT && std::string(e.what()).find("URL") != std::string::npos;
        }
        CHECK("cpp_bad_url_throws_invalid_argument", invalid);
    }
    {
        std::mutex mu;
        std::vector<redlead::Event> events;
        std::atomic<int> drops{0};
        struct DropCounter {
            std::atomic<int> *n = nullptr;
            ~DropCounter() { if (n) (*n)++; }
        };
        auto counter = std::make_shared<DropCounter>();
        counter->n = &drops;
        {
            redlead::ElectionOptions eo;
            eo.ttl = 1500ms;
            eo.retry_interval = 100ms;
            redlead::Election e(client, "cpp-election", "cpp-a",
                                [&, counter](const redlead::Event &ev) {
                                    std::lock_guard<std::mutex> g(mu);
                                    events.push_back(ev);
                                    if (ev.kind == REDLEAD_EVENT_LEADER_CHANGED) throw std::runtime_error("caught by the wrapper");
                                },
                                eo);
            counter.reset();
            CHECK("cpp_election_elects", eventually([&] { return e.is_leader(); }, 5000));
            CHECK("cpp_election_leader_query", e.leader().value_or("") == "cpp-a");
            CHECK("cpp_election_term", e.term() > 0);
        }
        CHECK("cpp_election_handler_destroyed_once_after_stop", drops == 1);
        std::lock_guard<std::mutex> g(mu);
        bool elected_first = false, revoked_stopped_last = false;
        for (auto &ev : events) if (ev.kind == REDLEAD_EVENT_ELECTED) { elected_first = true; break; } else if (ev.kind == REDLEAD_EVENT_REVOKED) break;
        for (auto &ev : events)
            if (ev.kind == REDLEAD_EVENT_REVOKED) revoked_stopped_last = ev.reason == REDLEAD_REVOKE_STOPPED;
        CHECK("cpp_election_events_in_order", elected_first && revoked_stopped_last);
    }
    {
        redlead::LockOptions o;
        o.owner = "cpp-owner";
        auto lock = client.try_acquire("cpp-owner", 10s, o);
        CHECK("cpp_holder_names_the_owner", client.holder("cpp-owner").value_or("?") == "cpp-owner");
        lock.release();
        CHECK("cpp_holder_is_empty_after_release", !client.holder("cpp-owner").has_value());
    }
    {
        // Auto-extension keeps a 600 ms lock past its ttl; on_lost fires
        // once the cap stops it, before the validity ends.
        redlead::LockOptions o;
        o.auto_extend = redlead::AutoExtend{1200ms, 0, 150ms};
        auto lock = client.try_acquire("cpp-auto", 600ms, o);
        std::atomic<bool> lost{false};
        lock.on_lost([&] { lost = true; });
        std::this_thread::sleep_for(900ms);
        CHECK("cpp_auto_extend_keeps_the_lock_past_its_ttl", lock.is_held() && lock.extensions() >= 2);
        CHECK("cpp_on_lost_fires_when_the_cap_ends_the_lock", eventually([&] { return lost.load(); }, 3000));
        CHECK("cpp_lost_lock_is_not_held", !lock.is_held());
    }
    {
        // A node that cannot be reached appears in the error's outcomes.
        redlead::Options o;
        o.node_timeout = 50ms;
        o.connect_timeout = 100ms;
        redlead::Client dead({"redis://127.0.0.1:1"}, o);
        bool outcomes = false;
        try {
            dead.try_acquire("cpp-dead", 5s);
        } catch (const redlead::Error &e) {
            printf("  unreachable node -> %d: %s\n", e.status(), e.what());
            outcomes = e.outcomes().size() == 1 && e.outcomes()[0].node == "127.0.0.1:1" &&
                       e.outcomes()[0].outcome != REDLEAD_OUTCOME_OK && !e.outcomes()[0].message.empty();
        }
        CHECK("cpp_error_carries_node_outcomes", outcomes);
    }
    {
        bool negative = false, zero_ttl = false, bad_pem = false;
        try {
            client.try_acquire("cpp-bad", -1s);
        } catch (const redlead::Error &e) {
            negative = e.status() == REDLEAD_ERR_INVALID_ARGUMENT;
        }
        try {
            client.try_acquire("cpp-bad", 0ms);
        } catch (const redlead::Error &e) {
            zero_ttl = e.status() == REDLEAD_ERR_INVALID_ARGUMENT;
        }
        try {
            redlead::Options o;
            o.tls = redlead::Tls{std::string("not a certificate"), std::nullopt, std::nullopt};
            redlead::Client tls(urls, o);
        } catch (const redlead::Error &e) {
            printf("  bad CA PEM -> %d: %s\n", e.status(), e.what());
            bad_pem = e.status() == REDLEAD_ERR_INVALID_ARGUMENT;
        }
        CHECK("cpp_negative_duration_throws_invalid_argument", negative);
        CHECK("cpp_zero_ttl_throws_invalid_argument", zero_ttl);
        CHECK("cpp_tls_options_reach_the_library", bad_pem);
    }
    {
        // A moved Election keeps leading; the moved-from one is inert.
        redlead::ElectionOptions eo;
        eo.ttl = 1500ms;
        redlead::Election first(client, "cpp-move", "cpp-m", [](const redlead::Event &) {}, eo);
        CHECK("cpp_movable_election_elects", eventually([&] { return first.is_leader(); }, 5000));
        redlead::Election moved(std::move(first));
        CHECK("cpp_moved_election_keeps_leading", moved.is_leader() && !first.is_leader() && moved.term() > 0);
        std::vector<redlead::Election> held;
        held.push_back(std::move(moved));
        CHECK("cpp_election_in_a_vector_leads", held[0].is_leader() && held[0].resign());
        CHECK("cpp_resigned_election_follows", !held[0].is_leader());
    }
    printf("cpp: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
