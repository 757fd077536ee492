// redlead.hpp - header-only C++17 RAII wrapper over the redlead C API.
//
//   redlead::Client client({"redis://127.0.0.1:7001", ...});
//   if (auto lock = client.try_acquire("jobs", 10000)) { ... }   // released at scope end
//   redlead::Election e(client, "leader", "node-1",
//                       [](const redlead::Event &ev) { ... });   // stopped at scope end
//
// Errors are thrown as redlead::Error (status + message); "held elsewhere" is
// not an error: try_acquire returns an empty Lock. Thread-safety follows the
// C API: Client, Lock and Election may be used from many threads at once.
#ifndef REDLEAD_HPP
#define REDLEAD_HPP

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

/// A failed call: the C status and the library's message.
class Error : public std::runtime_error {
  public:
    Error(redlead_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    redlead_status status() const noexcept { return status_; }

  private:
    redlead_status status_;
};

namespace detail {
// Takes the address of the error slot: it is read only after the call ran
// (function arguments have no evaluation order).
inline void check(redlead_status st, redlead_error **errp) {
    redlead_error *err = std::exchange(*errp, nullptr);
    if (st == REDLEAD_OK) return;
    std::string msg = err ? redlead_error_message(err) : redlead_status_str(st);
    redlead_error_free(err);
    throw Error(st, msg);
}
}  // namespace detail

/// Client settings (see redlead_config_set_* for each field's meaning).
struct Options {
    std::optional<uint64_t> node_timeout_ms, retry_delay_ms, retry_jitter_ms, connect_timeout_ms;
    std::optional<uint32_t> retry_count, runtime_threads;
    std::optional<double> drift_factor;
    std::optional<std::string> key_prefix;
    std::optional<bool> key_hash_tag;
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

    explicit operator bool() const noexcept { return lock_ != nullptr; }
    uint64_t validity_ms() const noexcept { return redlead_lock_validity_ms(lock_); }
    /// 0 unless acquired with fenced = true.
    uint64_t fencing_token() const noexcept { return redlead_lock_fencing_token(lock_); }
    void extend(uint64_t ttl_ms) {
        redlead_error *err = nullptr;
        detail::check(redlead_lock_extend(lock_, ttl_ms, &err), &err);
    }
    /// Releases now and reports failures (a destructor cannot throw).
    void release() {
        redlead_error *err = nullptr;
        detail::check(redlead_lock_release(lock_, &err), &err);
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
        std::unique_ptr<redlead_config, void (*)(redlead_config *)> cfg(redlead_config_new(),
                                                                        redlead_config_free);
        if (!cfg) throw Error(REDLEAD_ERR_INTERNAL, "redlead_config_new failed");
        redlead_error *err = nullptr;
        auto c = cfg.get();
        if (o.node_timeout_ms) detail::check(redlead_config_set_node_timeout_ms(c, *o.node_timeout_ms, &err), &err);
        if (o.retry_delay_ms) detail::check(redlead_config_set_retry_delay_ms(c, *o.retry_delay_ms, &err), &err);
        if (o.retry_jitter_ms) detail::check(redlead_config_set_retry_jitter_ms(c, *o.retry_jitter_ms, &err), &err);
        if (o.connect_timeout_ms) detail::check(redlead_config_set_connect_timeout_ms(c, *o.connect_timeout_ms, &err), &err);
        if (o.retry_count) detail::check(redlead_config_set_retry_count(c, *o.retry_count, &err), &err);
        if (o.runtime_threads) detail::check(redlead_config_set_runtime_threads(c, *o.runtime_threads, &err), &err);
        if (o.drift_factor) detail::check(redlead_config_set_drift_factor(c, *o.drift_factor, &err), &err);
        if (o.key_prefix) detail::check(redlead_config_set_key_prefix(c, o.key_prefix->c_str(), &err), &err);
        if (o.key_hash_tag) detail::check(redlead_config_set_key_hash_tag(c, *o.key_hash_tag ? 1 : 0, &err), &err);
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
    Lock try_acquire(const std::string &resource, uint64_t ttl_ms, bool fenced = false) {
        redlead_lock *l = nullptr;
        redlead_error *err = nullptr;
        auto st = redlead_lock_try_acquire(client_, resource.c_str(), ttl_ms,
                                           fenced ? REDLEAD_LOCK_FENCED : 0, &l, &err);
        if (st == REDLEAD_NOT_ACQUIRED) {
            redlead_error_free(err);
            return Lock();
        }
        detail::check(st, &err);
        return Lock(l);
    }
    /// Retries within wait_ms; an empty Lock when still held elsewhere.
    Lock acquire(const std::string &resource, uint64_t ttl_ms, uint64_t wait_ms, bool fenced = false) {
        redlead_lock *l = nullptr;
        redlead_error *err = nullptr;
        auto st = redlead_lock_acquire(client_, resource.c_str(), ttl_ms, wait_ms,
                                       fenced ? REDLEAD_LOCK_FENCED : 0, &l, &err);
        if (st == REDLEAD_NOT_ACQUIRED) {
            redlead_error_free(err);
            return Lock();
        }
        detail::check(st, &err);
        return Lock(l);
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
    std::optional<uint64_t> ttl_ms, renew_interval_ms, retry_interval_ms, retry_jitter_ms, step_down_margin_ms;
};

/// A candidate; stopped (and resigned if leading) when destroyed. The handler
/// runs on a library thread, one event at a time; exceptions it throws are
/// caught and dropped (they must not cross the C boundary). Do not destroy
/// the Election from inside its own handler.
class Election {
  public:
    using Handler = std::function<void(const Event &)>;

    Election(Client &client, const std::string &resource, const std::string &candidate_id,
             Handler handler, const ElectionOptions &o = {}) {
        std::unique_ptr<redlead_election_config, void (*)(redlead_election_config *)> cfg(
            redlead_election_config_new(), redlead_election_config_free);
        if (!cfg) throw Error(REDLEAD_ERR_INTERNAL, "redlead_election_config_new failed");
        redlead_error *err = nullptr;
        auto c = cfg.get();
        if (o.ttl_ms) detail::check(redlead_election_config_set_ttl_ms(c, *o.ttl_ms, &err), &err);
        if (o.renew_interval_ms) detail::check(redlead_election_config_set_renew_interval_ms(c, *o.renew_interval_ms, &err), &err);
        if (o.retry_interval_ms) detail::check(redlead_election_config_set_retry_interval_ms(c, *o.retry_interval_ms, &err), &err);
        if (o.retry_jitter_ms) detail::check(redlead_election_config_set_retry_jitter_ms(c, *o.retry_jitter_ms, &err), &err);
        if (o.step_down_margin_ms) detail::check(redlead_election_config_set_step_down_margin_ms(c, *o.step_down_margin_ms, &err), &err);
        // The closure owns a heap copy of the handler; the library calls
        // drop_handler exactly once, also when the start fails.
        redlead_event_closure closure{new Handler(std::move(handler)), &call_handler, &drop_handler};
        detail::check(redlead_election_start(client.get(), resource.c_str(), candidate_id.c_str(), c,
                                             closure, &election_, &err),
                      &err);
    }
    Election(const Election &) = delete;
    Election &operator=(const Election &) = delete;
    ~Election() { redlead_election_free(election_, nullptr); }

    bool is_leader() const noexcept { return redlead_election_is_leader(election_) != 0; }
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
    redlead_election *get() const noexcept { return election_; }

  private:
    static void call_handler(void *ctx, const redlead_event *ev) {
        try {
            Event e{ev->kind, ev->leader_id ? std::optional<std::string>(ev->leader_id) : std::nullopt,
                    ev->term, ev->reason};
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
