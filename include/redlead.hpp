// redlead.hpp - the C++17 API of redlead: RAII types over the C ABI
// (redlead.h), installed next to it and tested with it.
//
//   using namespace std::chrono_literals;
//   redlead::Client client({"redis://127.0.0.1:7001", ...});
//   if (auto lock = client.try_acquire("jobs", 10s)) { ... }   // released at scope end
//   redlead::Election e(client, "leader", "node-1",
//                       [](const redlead::Event &ev) { ... });   // stopped at scope end
//
// Errors are thrown as redlead::Error (status, message, and what each node
// answered); "held elsewhere" is not an error: acquiring returns an empty
// Lock. Durations are std::chrono durations (whole milliseconds on the wire;
// a finer one is rounded down, and 0 is refused where the C API refuses it).
// Thread-safety follows the C API: a Client, Lock or Election may be used
// from many threads at once; moving one is not synchronized.
#ifndef REDLEAD_HPP
#define REDLEAD_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "redlead.h"

namespace redlead {

using milliseconds = std::chrono::milliseconds;

/// What one node answered during the failed call.
struct NodeOutcome {
    std::string node;  // host:port, never a password
    redlead_outcome outcome;
    std::string message;
};

/// A failed call: the C status, the library's message, and each node's answer
/// when the call reached nodes (empty otherwise).
class Error : public std::runtime_error {
  public:
    Error(redlead_status status, const std::string &message, std::vector<NodeOutcome> outcomes = {})
        : std::runtime_error(message), status_(status), outcomes_(std::move(outcomes)) {}
    redlead_status status() const noexcept { return status_; }
    const std::vector<NodeOutcome> &outcomes() const noexcept { return outcomes_; }

  private:
    redlead_status status_;
    std::vector<NodeOutcome> outcomes_;
};

namespace detail {
inline std::vector<NodeOutcome> outcomes_of(const redlead_error *err) {
    std::vector<NodeOutcome> out;
    size_t n = redlead_error_node_count(err);
    for (size_t i = 0; i < n; i++) {
        const char *node = nullptr, *message = nullptr;
        redlead_outcome outcome = REDLEAD_OUTCOME_OK;
        if (redlead_error_node_outcome(err, i, &node, &outcome, &message, nullptr) == REDLEAD_OK)
            out.push_back({node ? node : "", outcome, message ? message : ""});
    }
    return out;
}

// Takes the address of the error slot: it is read only after the call ran
// (function arguments have no evaluation order).
inline void check(redlead_status st, redlead_error **errp) {
    redlead_error *err = std::exchange(*errp, nullptr);
    if (st == REDLEAD_OK) return;
    std::string msg = err ? redlead_error_message(err) : redlead_status_str(st);
    std::vector<NodeOutcome> outcomes = err ? outcomes_of(err) : std::vector<NodeOutcome>{};
    redlead_error_free(err);
    throw Error(st, msg, std::move(outcomes));
}

// Negative durations are refused here, as the C API takes unsigned ones.
template <class Rep, class Period>
uint64_t to_ms(std::chrono::duration<Rep, Period> d) {
    auto ms = std::chrono::duration_cast<milliseconds>(d).count();
    if (ms < 0) throw Error(REDLEAD_ERR_INVALID_ARGUMENT, "invalid argument: a duration must not be negative");
    return static_cast<uint64_t>(ms);
}

template <class T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
}  // namespace detail

/// Client-side TLS material for rediss:// nodes (PEM).
struct Tls {
    std::optional<std::string> root_ca_pem;
    std::optional<std::string> client_cert_pem, client_key_pem;
};

/// Client settings (see redlead_config_set_* for each field's meaning).
struct Options {
    std::optional<milliseconds> node_timeout, retry_delay, retry_jitter, connect_timeout;
    std::optional<uint32_t> retry_count, runtime_threads;
    std::optional<double> drift_factor;
    std::optional<std::string> key_prefix;
    std::optional<bool> key_hash_tag;
    std::optional<Tls> tls;
};

/// Keep a lock alive in the background with a cap (at least one of
/// max_hold and max_extensions; zero means no such cap).
struct AutoExtend {
    milliseconds max_hold{0};
    uint32_t max_extensions = 0;
    milliseconds interval{0};  // 0: ttl / 3
};

struct LockOptions {
    bool fenced = false;
    std::optional<std::string> owner;
    std::optional<AutoExtend> auto_extend;
};

/// A held lock; released in the background when destroyed (the destructor
/// never waits on the network; call release() to wait and see the outcome).
class Lock {
  public:
    Lock() = default;
    explicit Lock(redlead_lock *l) : lock_(l) {}
    Lock(Lock &&o) noexcept : lock_(std::exchange(o.lock_, nullptr)) {}
    Lock &operator=(Lock &&o) noexcept {
        if (this != &o) {
            reset();
            lock_ = std::exchange(o.lock_, nullptr);
        }
        return *this;
    }
    Lock(const Lock &) = delete;
    Lock &operator=(const Lock &) = delete;
    ~Lock() { reset(); }

    /// True when a lock was acquired (even if it has since been lost).
    explicit operator bool() const noexcept { return lock_ != nullptr; }
    /// Still held: acquired, not released, not lost, validity left.
    bool is_held() const noexcept { return lock_ && redlead_lock_is_held(lock_) != 0; }
    milliseconds validity() const noexcept { return milliseconds(redlead_lock_validity_ms(lock_)); }
    /// 0 unless acquired fenced.
    uint64_t fencing_token() const noexcept { return redlead_lock_fencing_token(lock_); }
    uint32_t extensions() const noexcept { return redlead_lock_extensions(lock_); }
    template <class Rep, class Period>
    void extend(std::chrono::duration<Rep, Period> ttl) {
        redlead_error *err = nullptr;
        detail::check(redlead_lock_extend(lock_, detail::to_ms(ttl), &err), &err);
    }
    /// Releases now and reports failures (a destructor cannot throw).
    void release() {
        redlead_error *err = nullptr;
        detail::check(redlead_lock_release(lock_, &err), &err);
    }
    /// Calls `f` once, on a library thread, if the lock is lost while held
    /// (before its validity ends). Exceptions `f` throws are dropped.
    void on_lost(std::function<void()> f) {
        using Fn = std::function<void()>;
        redlead_lost_closure closure{
            new Fn(std::move(f)),
            [](void *ctx) {
                try {
                    (*static_cast<Fn *>(ctx))();
                } catch (...) {
                    // Never unwind into the library.
                }
            },
            [](void *ctx) { delete static_cast<Fn *>(ctx); }};
        redlead_error *err = nullptr;
        detail::check(redlead_lock_on_lost(lock_, closure, &err), &err);
    }
    void reset() noexcept {
        if (lock_) redlead_lock_free(lock_);
        lock_ = nullptr;
    }
    redlead_lock *get() const noexcept { return lock_; }

  private:
    redlead_lock *lock_ = nullptr;
};

/// A client over N Redis masters. Movable, not copyable.
class Client {
  public:
    explicit Client(const std::vector<std::string> &urls, const Options &o = {}) {
        std::vector<const char *> ptrs;
        for (auto &u : urls) ptrs.push_back(u.c_str());
        std::unique_ptr<redlead_config, detail::Deleter<redlead_config, redlead_config_free>> cfg(
            redlead_config_new());
        if (!cfg) throw Error(REDLEAD_ERR_INTERNAL, "redlead_config_new failed");
        redlead_error *err = nullptr;
        auto c = cfg.get();
        if (o.node_timeout) detail::check(redlead_config_set_node_timeout_ms(c, detail::to_ms(*o.node_timeout), &err), &err);
        if (o.retry_delay) detail::check(redlead_config_set_retry_delay_ms(c, detail::to_ms(*o.retry_delay), &err), &err);
        if (o.retry_jitter) detail::check(redlead_config_set_retry_jitter_ms(c, detail::to_ms(*o.retry_jitter), &err), &err);
        if (o.connect_timeout) detail::check(redlead_config_set_connect_timeout_ms(c, detail::to_ms(*o.connect_timeout), &err), &err);
        if (o.retry_count) detail::check(redlead_config_set_retry_count(c, *o.retry_count, &err), &err);
        if (o.runtime_threads) detail::check(redlead_config_set_runtime_threads(c, *o.runtime_threads, &err), &err);
        if (o.drift_factor) detail::check(redlead_config_set_drift_factor(c, *o.drift_factor, &err), &err);
        if (o.key_prefix) detail::check(redlead_config_set_key_prefix(c, o.key_prefix->c_str(), &err), &err);
        if (o.key_hash_tag) detail::check(redlead_config_set_key_hash_tag(c, *o.key_hash_tag ? 1 : 0, &err), &err);
        if (o.tls) {
            if (o.tls->root_ca_pem)
                detail::check(redlead_config_set_tls_root_ca_pem(c, o.tls->root_ca_pem->c_str(), &err), &err);
            if (o.tls->client_cert_pem || o.tls->client_key_pem)
                detail::check(redlead_config_set_tls_client_cert_pem(
                                  c, o.tls->client_cert_pem ? o.tls->client_cert_pem->c_str() : nullptr,
                                  o.tls->client_key_pem ? o.tls->client_key_pem->c_str() : nullptr, &err),
                              &err);
        }
        detail::check(redlead_client_new(ptrs.data(), ptrs.size(), c, &client_, &err), &err);
    }
    Client(Client &&o) noexcept : client_(std::exchange(o.client_, nullptr)) {}
    Client &operator=(Client &&o) noexcept {
        if (this != &o) {
            redlead_client_free(client_);
            client_ = std::exchange(o.client_, nullptr);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    ~Client() { redlead_client_free(client_); }

    /// One attempt; an empty Lock when held elsewhere.
    template <class Rep, class Period>
    Lock try_acquire(const std::string &resource, std::chrono::duration<Rep, Period> ttl,
                     const LockOptions &o = {}) {
        return acquire(resource, ttl, milliseconds(0), o);
    }
    /// Retries within `wait`; an empty Lock when still held elsewhere.
    template <class Rep, class Period, class WRep, class WPeriod>
    Lock acquire(const std::string &resource, std::chrono::duration<Rep, Period> ttl,
                 std::chrono::duration<WRep, WPeriod> wait, const LockOptions &o = {}) {
        std::unique_ptr<redlead_lock_options, detail::Deleter<redlead_lock_options, redlead_lock_options_free>>
            opts(redlead_lock_options_new());
        if (!opts) throw Error(REDLEAD_ERR_INTERNAL, "redlead_lock_options_new failed");
        redlead_error *err = nullptr;
        if (o.fenced) detail::check(redlead_lock_options_set_fenced(opts.get(), 1, &err), &err);
        if (o.owner) detail::check(redlead_lock_options_set_owner(opts.get(), o.owner->c_str(), &err), &err);
        if (o.auto_extend)
            detail::check(redlead_lock_options_set_auto_extend(opts.get(), detail::to_ms(o.auto_extend->max_hold),
                                                               o.auto_extend->max_extensions,
                                                               detail::to_ms(o.auto_extend->interval), &err),
                          &err);
        redlead_lock *l = nullptr;
        auto st = redlead_lock_acquire_with(client_, resource.c_str(), detail::to_ms(ttl), detail::to_ms(wait),
                                            opts.get(), nullptr, &l, &err);
        if (st == REDLEAD_NOT_ACQUIRED) {
            redlead_error_free(err);
            return Lock();
        }
        detail::check(st, &err);
        return Lock(l);
    }
    /// Who holds `resource` (a quorum agreeing): std::nullopt when nobody
    /// does, an empty string when the holder set no owner label.
    std::optional<std::string> holder(const std::string &resource) const {
        uint8_t held = 0;
        char *owner = nullptr;
        redlead_error *err = nullptr;
        detail::check(redlead_client_holder(client_, resource.c_str(), &held, &owner, &err), &err);
        std::string label = owner ? owner : "";
        redlead_string_free(owner);
        if (!held) return std::nullopt;
        return label;
    }
    redlead_client *get() const noexcept { return client_; }

  private:
    redlead_client *client_ = nullptr;
};

/// An election event; strings are copies, valid as long as the Event.
struct Event {
    redlead_event_kind kind;
    std::optional<std::string> leader_id;
    uint64_t term;
    redlead_revoke_reason reason;
};

struct ElectionOptions {
    std::optional<milliseconds> ttl, renew_interval, retry_interval, retry_jitter, step_down_margin, stop_timeout;
};

/// A candidate; stopped (and resigned if leading) when destroyed. Movable,
/// not copyable. The handler runs on a library thread, one event at a time;
/// exceptions it throws are caught and dropped (they must not cross the C
/// boundary). Do not destroy the Election from inside its own handler.
class Election {
  public:
    using Handler = std::function<void(const Event &)>;

    Election(Client &client, const std::string &resource, const std::string &candidate_id, Handler handler,
             const ElectionOptions &o = {}) {
        std::unique_ptr<redlead_election_config,
                        detail::Deleter<redlead_election_config, redlead_election_config_free>>
            cfg(redlead_election_config_new());
        if (!cfg) throw Error(REDLEAD_ERR_INTERNAL, "redlead_election_config_new failed");
        redlead_error *err = nullptr;
        auto c = cfg.get();
        if (o.ttl) detail::check(redlead_election_config_set_ttl_ms(c, detail::to_ms(*o.ttl), &err), &err);
        if (o.renew_interval) detail::check(redlead_election_config_set_renew_interval_ms(c, detail::to_ms(*o.renew_interval), &err), &err);
        if (o.retry_interval) detail::check(redlead_election_config_set_retry_interval_ms(c, detail::to_ms(*o.retry_interval), &err), &err);
        if (o.retry_jitter) detail::check(redlead_election_config_set_retry_jitter_ms(c, detail::to_ms(*o.retry_jitter), &err), &err);
        if (o.step_down_margin) detail::check(redlead_election_config_set_step_down_margin_ms(c, detail::to_ms(*o.step_down_margin), &err), &err);
        if (o.stop_timeout) detail::check(redlead_election_config_set_stop_timeout_ms(c, detail::to_ms(*o.stop_timeout), &err), &err);
        // The closure owns a heap copy of the handler (so moving the Election
        // moves only the handle); the library calls drop_handler exactly
        // once, also when the start fails.
        redlead_event_closure closure{new Handler(std::move(handler)), &call_handler, &drop_handler};
        detail::check(
            redlead_election_start(client.get(), resource.c_str(), candidate_id.c_str(), c, closure, &election_, &err),
            &err);
    }
    Election(Election &&o) noexcept : election_(std::exchange(o.election_, nullptr)) {}
    Election &operator=(Election &&o) noexcept {
        if (this != &o) {
            stop();
            election_ = std::exchange(o.election_, nullptr);
        }
        return *this;
    }
    Election(const Election &) = delete;
    Election &operator=(const Election &) = delete;
    ~Election() { stop(); }

    bool is_leader() const noexcept { return election_ && redlead_election_is_leader(election_) != 0; }
    /// 0 when not leading.
    uint64_t term() const noexcept { return redlead_election_term(election_); }
    uint64_t transitions() const noexcept { return redlead_election_transitions(election_); }
    bool is_healthy() const noexcept { return redlead_election_is_healthy(election_) != 0; }
    /// Asks the nodes who leads now.
    std::optional<std::string> leader() const {
        std::string buf(64, '\0');
        for (;;) {
            size_t needed = 0;
            redlead_error *err = nullptr;
            detail::check(redlead_election_leader(election_, buf.data(), buf.size(), &needed, &err), &err);
            if (needed == 0) return std::nullopt;
            if (needed <= buf.size()) return std::string(buf.c_str());
            buf.assign(needed, '\0');
        }
    }
    /// True when this call ended a leadership.
    bool resign() {
        uint8_t resigned = 0;
        redlead_error *err = nullptr;
        detail::check(redlead_election_resign(election_, &resigned, &err), &err);
        return resigned != 0;
    }
    /// Stops now (resigning if leading); later calls see a closed election.
    void stop() noexcept {
        if (election_) redlead_election_free(std::exchange(election_, nullptr), nullptr);
    }
    redlead_election *get() const noexcept { return election_; }

  private:
    static void call_handler(void *ctx, const redlead_event *ev) {
        try {
            Event e{ev->kind, ev->leader_id ? std::optional<std::string>(ev->leader_id) : std::nullopt, ev->term,
                    ev->reason};
            (*static_cast<Handler *>(ctx))(e);
        } catch (...) {
            // Never unwind into the library.
        }
    }
    static void drop_handler(void *ctx) { delete static_cast<Handler *>(ctx); }

    redlead_election *election_ = nullptr;
};

}  // namespace redlead

#endif  // REDLEAD_HPP
