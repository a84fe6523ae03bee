import Crypto
import NIOCore
import Synchronization

/// Pictures already made, by their job (inputs and options), so each is decoded once: a page of a
/// hundred tiles polling one stream's newest picture costs one decode per new picture. Requests for a
/// picture being made wait for it instead of starting another decode. Bounded in bytes and entries
/// (least recently used go first). A failure is kept for `failureLifetime`, so a stream that cannot
/// be decoded is not decoded again on every poll; "busy" is never kept.
final class ImageCache: Sendable {
    struct Image: Sendable {
        var bytes: ByteBuffer
        /// A strong ETag of the bytes.
        var etag: String
    }

    typealias Outcome = Result<Image, ImageDecoder.Failure>

    private struct Entry {
        var outcome: Outcome
        var size: Int
        var used: UInt64
        var expires: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var making: [String: [CheckedContinuation<Outcome?, Never>]] = [:]
    }

    let maximumBytes: Int
    let maximumEntries: Int
    let failureLifetime: Duration
    private let state = Mutex(State())

    init(maximumBytes: Int, maximumEntries: Int = 10_000, failureLifetime: Duration = .seconds(10)) {
        self.maximumBytes = maximumBytes
        self.maximumEntries = maximumEntries
        self.failureLifetime = failureLifetime
    }

    /// The picture for `key`, made by `make` when it is neither cached nor being made.
    func image(_ key: String, make: @Sendable () async throws(ImageDecoder.Failure) -> ByteBuffer) async throws(ImageDecoder.Failure) -> Image {
        enum Step { case cached(Outcome), wait, make }
        let now = ContinuousClock.now
        let step = state.withLock { state -> Step in
            state.clock += 1
            if let entry = state.entries[key] {
                if entry.expires.map({ $0 > now }) ?? true {
                    state.entries[key]?.used = state.clock
                    return .cached(entry.outcome)
                }
                remove(key, &state)
            }
            if state.making[key] != nil { return .wait }
            state.making[key] = []
            return .make
        }
        let outcome: Outcome
        switch step {
        case .cached(let cached): outcome = cached
        case .wait:
            let waited: Outcome? = await withCheckedContinuation { (waiter: CheckedContinuation<Outcome?, Never>) in
                enum Now { case wait, done(Outcome), again }
                let now = state.withLock { state -> Now in
                    guard state.making[key] != nil else {
                        // Made in between: kept, or not kept (too big, or busy): then ask again.
                        return state.entries[key].map { .done($0.outcome) } ?? .again
                    }
                    state.making[key]!.append(waiter)
                    return .wait
                }
                switch now {
                case .wait: break
                case .done(let outcome): waiter.resume(returning: outcome)
                case .again: waiter.resume(returning: nil)
                }
            }
            guard let waited else { return try await image(key, make: make) }
            outcome = waited
        case .make:
            do {
                let bytes = try await make()
                outcome = .success(Image(bytes: bytes, etag: Self.etag(bytes)))
            } catch {
                outcome = .failure(error)
            }
            let waiters = state.withLock { state -> [CheckedContinuation<Outcome?, Never>] in
                let waiters = state.making.removeValue(forKey: key) ?? []
                if case .failure(.busy) = outcome { return waiters }
                store(key, outcome, &state)
                return waiters
            }
            for waiter in waiters { waiter.resume(returning: outcome) }
        }
        return try outcome.get()
    }

    /// Bytes held, for tests and metrics.
    var bytes: Int { state.withLock { $0.bytes } }

    /// Requests waiting for `key` to be made, for tests.
    func waiters(_ key: String) -> Int { state.withLock { $0.making[key]?.count ?? 0 } }

    private func store(_ key: String, _ outcome: Outcome, _ state: inout State) {
        let size: Int
        let expires: ContinuousClock.Instant?
        switch outcome {
        case .success(let image): size = image.bytes.readableBytes + key.utf8.count; expires = nil
        case .failure: size = key.utf8.count + 64; expires = .now + failureLifetime
        }
        guard size <= maximumBytes / 4 else { return }  // one picture never empties the cache
        state.clock += 1
        state.entries[key] = Entry(outcome: outcome, size: size, used: state.clock, expires: expires)
        state.bytes += size
        if state.bytes > maximumBytes || state.entries.count > maximumEntries {
            // The least recently used go, down to three quarters of the limits.
            let ordered = state.entries.sorted { $0.value.used < $1.value.used }.map(\.key)
            for oldest in ordered {
                guard state.bytes > maximumBytes * 3 / 4 || state.entries.count > maximumEntries * 3 / 4 else { break }
                remove(oldest, &state)
            }
        }
    }

    private func remove(_ key: String, _ state: inout State) {
        guard let entry = state.entries.removeValue(forKey: key) else { return }
        state.bytes -= entry.size
    }

    static func etag(_ bytes: ByteBuffer) -> String {
        let digest = SHA256.hash(data: bytes.readableBytesView)
        return "\"" + digest.prefix(12).map { String($0, radix: 16).leftPadded(2) }.joined() + "\""
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
