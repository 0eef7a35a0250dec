/// A fixed-capacity FIFO of interleaved float frames, allocated once: the elastic store between
/// a decoder that produces frames in bursts (960 per 20 ms Opus packet) and a consumer that
/// takes them in small steady blocks (48 per 1 ms port packet). Not thread-safe: one owner
/// (the leg's event loop) reads and writes it.
public final class SampleRing {
    public let channels: Int
    /// Frames it can hold.
    public let capacity: Int
    @usableFromInline let storage: UnsafeMutableBufferPointer<Float>
    /// Index of the oldest frame.
    @usableFromInline var head = 0
    /// Frames held.
    public internal(set) var count = 0
    /// Frames refused by `write` because the ring was full.
    public private(set) var overflowFrames = 0

    public init(capacity: Int, channels: Int) {
        precondition(capacity > 0 && channels > 0)
        self.capacity = capacity
        self.channels = channels
        storage = .allocate(capacity: capacity * channels)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// Room left, in frames.
    public var freeSpace: Int { capacity - count }

    /// Appends the whole frames of `samples` that fit; returns the frames written.
    @discardableResult
    public func write(_ samples: UnsafeBufferPointer<Float>) -> Int {
        let frames = min(samples.count / channels, freeSpace)
        overflowFrames += samples.count / channels - frames
        var tail = (head + count) % capacity
        var source = 0
        var remaining = frames
        while remaining > 0 {
            let run = min(remaining, capacity - tail)
            _ = UnsafeMutableBufferPointer(rebasing: storage[(tail * channels)..<((tail + run) * channels)])
                .update(
                    fromContentsOf: UnsafeBufferPointer(
                        rebasing: samples[(source * channels)..<((source + run) * channels)]))
            source += run
            remaining -= run
            tail = (tail + run) % capacity
        }
        count += frames
        return frames
    }

    /// Appends `frames` frames of silence (or as many as fit); returns the frames written.
    @discardableResult
    public func writeSilence(frames: Int) -> Int {
        let frames = min(frames, freeSpace)
        var tail = (head + count) % capacity
        for _ in 0..<frames {
            for channel in 0..<channels { storage[tail * channels + channel] = 0 }
            tail = tail + 1 == capacity ? 0 : tail + 1
        }
        count += frames
        return frames
    }

    /// Moves up to `output.count / channels` frames out; returns the frames read.
    @discardableResult
    public func read(into output: UnsafeMutableBufferPointer<Float>) -> Int {
        let frames = min(output.count / channels, count)
        var destination = 0
        var remaining = frames
        while remaining > 0 {
            let run = min(remaining, capacity - head)
            _ = UnsafeMutableBufferPointer(
                rebasing: output[(destination * channels)..<((destination + run) * channels)]
            )
            .update(
                fromContentsOf: UnsafeBufferPointer(
                    rebasing: storage[(head * channels)..<((head + run) * channels)]))
            destination += run
            remaining -= run
            head = (head + run) % capacity
            count -= run
        }
        return frames
    }

    /// Sample `channel` of the frame `offset` frames after the oldest (0 ..< count).
    public func sample(frame offset: Int, channel: Int) -> Float {
        var index = head + offset
        if index >= capacity { index -= capacity }
        return storage[index * channels + channel]
    }

    /// Drops up to `frames` of the oldest frames.
    public func discard(frames: Int) {
        let frames = min(frames, count)
        head = (head + frames) % capacity
        count -= frames
    }

    /// Empties the ring.
    public func removeAll() {
        head = 0
        count = 0
    }
}
