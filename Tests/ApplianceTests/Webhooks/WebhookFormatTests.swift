import Foundation
import Testing
@testable import Appliance

@Suite struct WebhookSignatureTests {
    @Test func matchesMuxsAlgorithm() {
        // python3: hmac.new(b'whsec-0123456789abcdef', b'1700000000.' + body, hashlib.sha256).hexdigest()
        let body = Data(#"{"type":"video.live_stream.active"}"#.utf8)
        #expect(WebhookSignature.value(secret: "whsec-0123456789abcdef", timestamp: 1_700_000_000, body: body)
            == "t=1700000000,v1=ddb2ea6816518f56912e488225faac5fb94cdbe47aeb6f4a35ae3b45efbd093a")
    }

    @Test func dependsOnTheTimeTheSecretAndEveryByte() {
        let body = Data("{}".utf8)
        let base = WebhookSignature.value(secret: "a-secret-of-16chars", timestamp: 1, body: body)
        #expect(base != WebhookSignature.value(secret: "a-secret-of-16chars", timestamp: 2, body: body))
        #expect(base != WebhookSignature.value(secret: "b-secret-of-16chars", timestamp: 1, body: body))
        #expect(base != WebhookSignature.value(secret: "a-secret-of-16chars", timestamp: 1, body: Data("{ }".utf8)))
    }
}

@Suite struct RetryScheduleTests {
    @Test(arguments: [
        (1, 0.0, 1.0), (2, 0.0, 2.0), (3, 0.0, 4.0), (9, 0.0, 256.0), (10, 0.0, 300.0), (100, 0.0, 300.0),
        (1, 1.0, 0.5), (3, 1.0, 2.0), (3, 0.5, 3.0), (1000, 1.0, 150.0),
    ])
    func delaysDoubleUpToTheCapWithJitterDownToHalf(failures: Int, jitter: Double, expected: Double) {
        #expect(RetrySchedule().delay(afterFailures: failures, jitter: jitter) == expected)
    }

    @Test func givesUpWhenTheNextAttemptWouldBePastRetryFor() {
        let schedule = RetrySchedule(retryFor: 100)
        #expect(schedule.nextAttempt(afterFailures: 1, createdAt: 1000, now: 1000, jitter: 0) == 1001)
        #expect(schedule.nextAttempt(afterFailures: 3, createdAt: 1000, now: 1095, jitter: 0) == 1099)
        #expect(schedule.nextAttempt(afterFailures: 3, createdAt: 1000, now: 1097, jitter: 0) == nil)
        #expect(schedule.nextAttempt(afterFailures: 1, createdAt: 1000, now: 1101, jitter: 0) == nil)
    }

    @Test func muxsDayIsAboutThreeHundredAttempts() {

        #expect(RetrySchedule().maxAttempts == 296)  // 1 + 9 (1 s ... 256 s apart, 511 s) + 286 five minutes apart
        #expect(RetrySchedule(retryFor: 10).maxAttempts == 4)  // 1, 2, 4: the fourth would be past 10 s
    }
}

@Suite struct WebhookEnvelopeTests {
    @Test func isMuxsEnvelopeWithTheRecordedDataVerbatim() throws {
        let data = Data(#"{"id":"LS1","status":"active","created_at":1700000000}"#.utf8)
        let attempts = WebhookAttempt.appending(WebhookAttempt(
            id: 1, address: "https://app/hooks", created_at: "2026-12-01T10:00:00.000000Z", max_attempts: 294, response_body: "no",
            response_headers: ["content-type": "text/plain"], response_status_code: 500, webhook_id: 7), to: Data("[]".utf8))
        let body = WebhookEnvelope.body(id: "3a56ac3d-33da-4366-855b-f592d898409d", type: "video.live_stream.active", objectType: "live",
                                        objectID: "LS1", environment: .init(name: "Main \"hall\"", id: "j0863nab"), data: data,
                                        createdAt: 1_518_656_685.25, attempts: attempts)
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(Set(json.keys) == ["type", "object", "id", "environment", "data", "created_at", "attempts", "accessor_source", "accessor", "request_id"])
        #expect(json["type"] as? String == "video.live_stream.active")
        #expect(json["object"] as? [String: String] == ["type": "live", "id": "LS1"])
        #expect(json["environment"] as? [String: String] == ["name": "Main \"hall\"", "id": "j0863nab"])
        #expect(json["created_at"] as? String == "2018-02-15T01:04:45.250000Z")
        #expect(json["accessor_source"] is NSNull && json["accessor"] is NSNull && json["request_id"] is NSNull)
        let item = try #require((json["attempts"] as? [[String: Any]])?.first)
        #expect(Set(item.keys) == ["id", "address", "created_at", "max_attempts", "response_body", "response_headers",
                                   "response_status_code", "webhook_id"])
        #expect(item["response_status_code"] as? Int == 500)
        #expect(String(decoding: body, as: UTF8.self).contains(#""data":{"id":"LS1","status":"active","created_at":1700000000}"#))
    }

    @Test(arguments: [(0.0, "1970-01-01T00:00:00.000000Z"), (1_700_000_000.123456, "2023-11-14T22:13:20.123456Z"),
                      (59.9999999, "1970-01-01T00:01:00.000000Z")])
    func timestampsHaveMicrosecondsAndZ(seconds: Double, text: String) {
        #expect(WebhookEnvelope.timestamp(seconds) == text)
    }

    @Test func liveStreamDataIsTheAPIObjectWithANumericCreatedAt() throws {
        let stream = LiveStream(id: "abc", streamKey: "key", status: .active, createdAt: 1_609_937_654, reconnectWindow: 60,
                                maxContinuousDuration: 43200, latencyMode: .standard, passthrough: "p", audioOnly: false, test: false,
                                playbackIDs: [PlaybackID(id: "pb", policy: .public)], activeIngestProtocol: "rtmp")
        let webhook = try #require(try JSONSerialization.jsonObject(with: LiveStreamJSON.webhookData(stream)) as? [String: Any])
        let api = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(LiveStreamJSON(stream))) as? [String: Any])
        #expect(Set(webhook.keys) == Set(api.keys))
        #expect(webhook["created_at"] as? Int64 == stream.createdAt && api["created_at"] as? String == String(stream.createdAt))
        #expect(webhook["status"] as? String == "active" && webhook["stream_key"] as? String == stream.streamKey)
    }
}
