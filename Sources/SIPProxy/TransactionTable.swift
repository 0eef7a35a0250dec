import SIP

/// What a transaction table needs to know of an entry: when its transaction next needs the clock.
protocol TimedEntry: Sendable {
    var deadline: TransactionInstant? { get }
}

/// Transactions by key, with a min-heap of their deadlines, so that a timer tick costs O(log n) per
/// due timer instead of a walk over every live transaction: over UDP a transaction lingers 64·T1
/// (32 s) after its final response (timers J, L and M, §17 and RFC 6026), so a few hundred calls per
/// second keep tens of thousands alive. A write that changes the entry's deadline pushes it; queue
/// items whose entry's deadline moved on since are dropped when they surface.
struct TransactionTable<Entry: TimedEntry>: Sendable {
    private struct Slot: Sendable {
        var entry: Entry
        /// The entry's number in `records`, which its queue items carry instead of its key.
        var handle: Handle
    }

    /// What a handle stands for: its entry's key, and the deadline the entry last queued while that
    /// queue item has not surfaced. A write that leaves the deadline as it was (most writes: a response
    /// forwarded, a flag set) queues nothing, and a queue item that surfaces with another deadline is
    /// dropped by comparing two numbers, without looking its key up.
    private struct Record: Sendable {
        var key: TransactionKey?
        /// Counts the entries that held the handle: it tells the queue items of an old entry (still in
        /// the heap) from those of the new one.
        var generation: UInt32
        var queued: TransactionInstant?
    }

    private var slots: [TransactionKey: Slot] = [:]
    private var queue = DeadlineHeap()
    /// Records by handle; a handle is reused once its entry is gone.
    private var records: [Record] = []
    private var freeHandles: [UInt32] = []

    subscript(key: TransactionKey) -> Entry? {
        get { slots[key]?.entry }
        set {
            guard let newValue else {
                if let slot = slots.removeValue(forKey: key) { free(slot.handle) }
                return
            }
            if let index = slots.index(forKey: key) {
                modify(at: index) { $0 = newValue }
            } else {
                let handle = allocateHandle(for: key)
                slots[key] = Slot(entry: newValue, handle: handle)
                requeue(handle, newValue.deadline)
            }
        }
    }

    /// Runs `body` on the entry of `key` in place (no copy of the entry) and queues its deadline as a
    /// write does; nil when there is none. `body` must not touch the table.
    mutating func modify<Result>(_ key: TransactionKey, _ body: (inout Entry) -> Result) -> Result? {
        guard let index = slots.index(forKey: key) else { return nil }
        return modify(at: index, body)
    }

    private mutating func modify<Result>(
        at index: Dictionary<TransactionKey, Slot>.Index, _ body: (inout Entry) -> Result
    ) -> Result {
        let result = body(&slots.values[index].entry)
        requeue(slots.values[index].handle, slots.values[index].entry.deadline)
        return result
    }

    /// Queues `deadline` for `handle` unless that is the deadline it has queued already.
    private mutating func requeue(_ handle: Handle, _ deadline: TransactionInstant?) {
        guard let deadline, records[Int(handle.index)].queued != deadline else { return }
        records[Int(handle.index)].queued = deadline
        queue.insert(deadline, handle)
    }

    /// Reads the entry of `key` in place, without copying all of it; nil when there is none.
    mutating func peek<Result>(_ key: TransactionKey, _ body: (inout Entry) -> Result) -> Result? {
        guard let index = slots.index(forKey: key) else { return nil }
        return body(&slots.values[index].entry)
    }

    /// Whether `key` has an entry, without copying it.
    func contains(_ key: TransactionKey) -> Bool { slots.index(forKey: key) != nil }

    var count: Int { slots.count }

    /// The earliest deadline queued; it may belong to an entry that has since moved on (then the
    /// `popDue` it leads to merely drops it).
    var nextDeadline: TransactionInstant? { queue.first?.deadline }

    /// The keys whose transactions are due at `now`, each once, earliest first; their queue entries are
    /// consumed, so the caller must run each one's timers and store it back.
    mutating func popDue(_ now: TransactionInstant) -> [TransactionKey] {
        var due: [TransactionKey] = []
        while let first = queue.first, first.deadline <= now {
            queue.removeFirst()
            let number = Int(first.handle.index)
            // An entry has one live queue item: the one with the deadline it queued last.
            guard records[number].generation == first.handle.generation, records[number].queued == first.deadline,
                let key = records[number].key
            else { continue }
            records[number].queued = nil
            guard let index = slots.index(forKey: key), let current = slots.values[index].entry.deadline,
                current <= now
            else { continue }
            due.append(key)
        }
        return due
    }

    private mutating func allocateHandle(for key: TransactionKey) -> Handle {
        if let index = freeHandles.popLast() {
            records[Int(index)].key = key
            records[Int(index)].queued = nil
            return Handle(index: index, generation: records[Int(index)].generation)
        }
        records.append(Record(key: key, generation: 0, queued: nil))
        return Handle(index: UInt32(records.count - 1), generation: 0)
    }

    private mutating func free(_ handle: Handle) {
        records[Int(handle.index)] = Record(key: nil, generation: handle.generation &+ 1, queued: nil)
        freeHandles.append(handle.index)
    }
}

/// A transaction's number in its table, as the deadline heap carries it: two integers, so that
/// moving heap items around costs no reference counting (a `TransactionKey` holds strings).
struct Handle: Hashable, Sendable {
    var index: UInt32
    var generation: UInt32
}

/// A binary min-heap of (deadline, transaction) pairs.
struct DeadlineHeap: Sendable {
    private var items: [(deadline: TransactionInstant, handle: Handle)] = []

    var first: (deadline: TransactionInstant, handle: Handle)? { items.first }
    var count: Int { items.count }

    mutating func insert(_ deadline: TransactionInstant, _ handle: Handle) {
        items.append((deadline, handle))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
