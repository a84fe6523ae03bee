import Foundation
import Logging
import Synchronization
import Testing
@testable import Appliance

/// Answers POSTs from a script (status codes in turn, then 200), recording each with its time.
final class ScriptedSender: WebhookSending {
    struct Post: Sendable {
        var event: [String: any Sendable]
        var signature: String
        var body: Data
        var started: ContinuousClock.Instant
        var ended: ContinuousClock.Instant
    }
    let script: Mutex<[Int]>
    let posts = Mutex<[Post]>([])
    let delay: Duration
    let shutDown = Atomic<Bool>(false)
    /// Runs at the start of each POST with its number (0, 1, ...), before it is answered.
    let onPost: @Sendable (Int) -> Void

    init(_ script: [Int] = [], delay: Duration = .zero, onPost: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.script = Mutex(script)
        self.delay = delay
        self.onPost = onPost
    }

    func post(_ body: Data, headers: [(String, String)], timeout: Duration) async -> WebhookResponse {
        let started = ContinuousClock.now
        onPost(posts.withLock { $0.count })
        if delay > .zero { try? await Task.sleep(for: delay) }
        let status = script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
        let json = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        let event = json.mapValues { "\($0)" as any Sendable }.merging(["_attempts": (json["attempts"] as? [Any])?.count ?? -1]) { $1 }
        let signature = headers.first { $0.0 == WebhookSignature.header }?.1 ?? ""
        posts.withLock { $0.append(Post(event: event, signature: signature, body: body, started: started, ended: .now)) }
        return WebhookResponse(status: status, headers: ["x": "y"], body: "answer \(status)")
    }

    func shutdown() async { shutDown.store(true, ordering: .relaxed) }
    var all: [Post] { posts.withLock { $0 } }
}

@Suite struct EndpointWorkerTests {
    let outbox = Outbox(store: LiveStreamStore())
    let endpoint = WebhookEndpoint(url: "http://receiver/hooks", signingSecret: "a-signing-secret-0123")

    func worker(_ sender: ScriptedSender, schedule: RetrySchedule = RetrySchedule(firstDelay: 0.05, maxDelay: 0.05)) -> EndpointWorker {
        var settings = WebhookSettings(environmentName: "test")
        settings.schedule = schedule
        settings.concurrency = 4
        return EndpointWorker(endpoint: endpoint, settings: settings, outbox: outbox, makeSender: { _ in sender },
                              environment: .init(name: "test", id: "env12345"), logger: Logger(label: "test"),
                              jitter: { 0 }, tick: .milliseconds(20))
    }

    func record(_ events: [(String, String)]) async throws {
        let now = Date().timeIntervalSince1970
        _ = try await outbox.record(events.map { (OutboxTests.event($0.0, $0.1, at: now), [endpoint.url]) }, cursor: 0, limit: 1000)
    }

    /// Runs the worker until `done` holds (or 10 s), then stops it.
    func run(_ worker: EndpointWorker, until done: @escaping @Sendable () async -> Bool) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await worker.run() }
            worker.send(.wake(recorded: true))
            let deadline = ContinuousClock.now + .seconds(10)
            while await !done(), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            worker.send(.stop)
        }
    }

    @Test func oneStreamInOrderOtherStreamsAlongside() async throws {
        let sender = ScriptedSender(delay: .milliseconds(50))
        try await record([("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("c1", "C")])
        await run(worker(sender)) { sender.all.count == 5 }
        let posts = sender.all
        let a = posts.filter { ($0.event["id"] as? String)?.hasPrefix("a") == true }
        #expect(a.map { $0.event["id"] as? String } == ["a1", "a2", "a3"])
        for (earlier, later) in zip(a, a.dropFirst()) { #expect(earlier.ended <= later.started, "one stream's events never overlap") }
        let b = try #require(posts.first { $0.event["id"] as? String == "b1" })
        #expect(b.started < a[0].ended, "B does not wait for A")
        #expect(try await outbox.queued() == 0)
        let closed = sender.shutDown.load(ordering: .relaxed)
        #expect(closed, "the worker closes its HTTP client when it ends")
    }

    @Test func retriesUntil2xxWithTheSameIDAndTheEarlierAttempts() async throws {
        let sender = ScriptedSender([500, 503, 200])
        try await record([("e1", "A")])
        await run(worker(sender)) { sender.all.count == 3 }
        let posts = sender.all
        #expect(posts.count == 3)
        #expect(Set(posts.map { $0.event["id"] as? String }) == ["e1"], "every attempt carries the event's id")
        #expect(posts.map { $0.event["_attempts"] as? Int } == [0, 1, 2], "attempts lists the earlier ones")
        for post in posts {
            let t = Int(post.signature.split(separator: ",")[0].dropFirst(2))!
            #expect(post.signature == WebhookSignature.value(secret: endpoint.signingSecret, timestamp: t, body: post.body))
        }
        #expect(try await outbox.queued() == 0)
        let last = try #require(try JSONSerialization.jsonObject(with: posts[2].body) as? [String: Any])
        let attempts = try #require(last["attempts"] as? [[String: Any]])
        #expect(attempts.map { $0["response_status_code"] as? Int } == [500, 503])
        #expect(attempts.map { $0["id"] as? Int } == [1, 2] && attempts[0]["address"] as? String == endpoint.url)
    }

    @Test func givesUpWhenRetryForRunsOut() async throws {
        let sender = ScriptedSender(Array(repeating: 500, count: 1000))
        try await record([("doomed", "A"), ("next", "A")])
        await run(worker(sender, schedule: RetrySchedule(firstDelay: 0.05, maxDelay: 0.05, retryFor: 0.3))) {
            sender.all.contains { $0.event["id"] as? String == "next" }
        }
        let ids = sender.all.map { $0.event["id"] as? String }
        let doomed = ids.filter { $0 == "doomed" }.count
        #expect(doomed >= 1 && doomed <= 8, "tried for 0.3 s at 0.05 s intervals at most, then dropped: \(doomed)")
        #expect(ids.firstIndex(of: "next")! == doomed, "the stream's next event goes once the first is given up, not before")
    }

    @Test func aReloadedSecretSignsTheNextAttempt() async throws {
        let box = Mutex<EndpointWorker?>(nil)
        let sender = ScriptedSender([500, 200]) { index in
            // The reload lands while the first attempt is in flight.
            if index == 0 {
                box.withLock { $0 }?.update(WebhookEndpoint(url: "http://receiver/hooks", signingSecret: "the-new-secret-0123"),
                                            WebhookSettings(environmentName: "x", schedule: RetrySchedule(firstDelay: 0.05)))
            }
        }
        try await record([("e1", "A")])
        let worker = worker(sender)
        box.withLock { $0 = worker }
        await run(worker) { sender.all.count == 2 }
        let second = try #require(sender.all.last)
        let t = Int(second.signature.split(separator: ",")[0].dropFirst(2))!
        #expect(second.signature == WebhookSignature.value(secret: "the-new-secret-0123", timestamp: t, body: second.body))
    }

    @Test func stoppingSendsEachStreamsQueueButRetriesNothing() async throws {
        let sender = ScriptedSender([200, 200, 500])
        try await record([("a1", "A"), ("a2", "A"), ("b1", "B")])
        let worker = worker(sender)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await worker.run() }
            worker.send(.stop)  // before any wake: the stop itself sends what is due
        }
        let ids = sender.all.map { $0.event["id"] as? String }
        #expect(Set(ids.compactMap { $0 }) == ["a1", "a2", "b1"], "a stream's later event goes once the one before is delivered")
        #expect(ids.count == 3, "the failed one is not tried again while stopping")
        #expect(try await outbox.queued() == 1, "it waits in the outbox for the next start")
    }

    @Test func theAttemptsListKeepsTheLatestTen() throws {
        var stored = Data("[]".utf8)
        for n in 1...12 {
            stored = WebhookAttempt.appending(WebhookAttempt(id: n, address: "a", created_at: "t", max_attempts: 296,
                                                             response_body: String(repeating: "x", count: 5000), response_headers: [:],
                                                             response_status_code: 500, webhook_id: 1), to: stored)
        }
        let list = try JSONDecoder().decode([WebhookAttempt].self, from: stored)
        #expect(list.map(\.id) == Array(3...12))
        #expect(list.allSatisfy { $0.response_body?.utf8.count == WebhookAttempt.bodyKept })
    }
}
