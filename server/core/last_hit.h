// FindRememberingLastHit(): a name lookup in a table of named objects that
// a call asks for the same name over and over (a call names one or two
// kinds and backends for all its jobs, and each job is looked up more than
// once), for less than the hash costs: each thread remembers its last hit,
// which one compare of the name confirms.
//
// The table is a hash map from names to unique_ptr<T>, keyed by a
// TableId that is unique in the process (a hit is remembered by the
// table's id, not its address, which a later table may reuse). An entry
// is never removed or replaced while the table is read; a table whose
// entry is replaced (before it is read concurrently) takes a new id, which
// forgets every thread's hit.
//
// Thread-safe to call concurrently on a table nobody changes; the memory
// is per thread.
#ifndef JOBGROUP_SERVER_CORE_LAST_HIT_H_
#define JOBGROUP_SERVER_CORE_LAST_HIT_H_

#include <atomic>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace jobgroup {

// A table's identity for FindRememberingLastHit(): never 0, never reused.
inline uint64_t NewTableId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// The object named `name` in `table` (id `table_id`), or nullptr;
// `name_of(const T&)` gives an object's name.
template <class T, class Table, class NameOf>
T* FindRememberingLastHit(const Table& table, uint64_t table_id,
                          absl::string_view name, NameOf name_of) {
  struct LastHit {
    uint64_t table = 0;
    T* object = nullptr;
  };
  thread_local LastHit last;
  if (last.table == table_id && name_of(*last.object) == name) {
    return last.object;
  }
  auto it = table.find(name);
  if (it == table.end()) return nullptr;
  last = {table_id, it->second.get()};
  return last.object;
}

}  // namespace jobgroup

#endif  // JOBGROUP_SERVER_CORE_LAST_HIT_H_
