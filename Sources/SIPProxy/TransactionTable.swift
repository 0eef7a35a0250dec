import SIP

/// What a transaction table needs to know of an entry: when its transaction next needs the clock.
protocol TimedEntry: Sendable {
    var deadline: TransactionInstant? { get }
}

/// Transactions by key, with a min-heap of their deadlines, so that a timer tick costs O(log n) per
/// due timer instead of a walk over every live transaction: over UDP a transaction lingers 64·T1
/// (32 s) after its final response (timers J, L and M, §17 and RFC 6026), so a few hundred calls per
/// second keep tens of thousands alive. Every write pushes the entry's deadline; entries whose
/// deadline moved on since are dropped when they surface.
struct TransactionTable<Entry: TimedEntry>: Sendable {
    private(set) var entries: [TransactionKey: Entry] = [:]
    private var queue = DeadlineHeap()

    subscript(key: TransactionKey) -> Entry? {
        get { entries[key] }
        set {
            entries[key] = newValue
            if let deadline = newValue?.deadline { queue.insert(deadline, key) }
        }
    }

    var count: Int { entries.count }
    var values: Dictionary<TransactionKey, Entry>.Values { entries.values }

    /// The earliest deadline queued; it may belong to an entry that has since moved on (then the
    /// `popDue` it leads to merely drops it).
    var nextDeadline: TransactionInstant? { queue.first?.deadline }

    /// The keys whose transactions are due at `now`, each once, earliest first; their queue entries are
    /// consumed, so the caller must run each one's timers and store it back.
    mutating func popDue(_ now: TransactionInstant) -> [TransactionKey] {
        var keys: [TransactionKey] = []
        var seen: Set<TransactionKey> = []
        while let first = queue.first, first.deadline <= now {
            queue.removeFirst()
            guard let deadline = entries[first.key]?.deadline, deadline <= now, seen.insert(first.key).inserted
            else { continue }
            keys.append(first.key)
        }
        return keys
    }
}

/// A binary min-heap of (deadline, transaction) pairs.
struct DeadlineHeap: Sendable {
    private var items: [(deadline: TransactionInstant, key: TransactionKey)] = []

    var first: (deadline: TransactionInstant, key: TransactionKey)? { items.first }
    var count: Int { items.count }

    mutating func insert(_ deadline: TransactionInstant, _ key: TransactionKey) {
        items.append((deadline, key))
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
