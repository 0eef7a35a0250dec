import Logging
import Testing

@testable import DaemonSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The log line's shape: what operators grep and what journald reads.
@Suite("Log line format")
struct LineLogFormatTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func fieldsAreSortedAndQuotedOnlyWhenTheyMustBe() {
        let metadata: Logger.Metadata = [
            "user": "alice", "client": "udp 192.0.2.1:4000 → 192.0.2.9:3478", "lifetime_s": "600",
            "note": "say \"hi\"\\now\nnext", "empty": "",
        ]
        let line = Self.text(
            LineLogHandler.line(
                level: .info, message: "allocation created", metadata: metadata, name: "stagedoor-turn",
                prefix: "2026-12-03T07:00:00.000Z "))
        let pid = getpid()
        #expect(
            line
                == "2026-12-03T07:00:00.000Z stagedoor-turn[\(pid)] info: allocation created"
                + " client=\"udp 192.0.2.1:4000 → 192.0.2.9:3478\" empty=\"\" lifetime_s=600"
                + " note=\"say \\\"hi\\\"\\\\now\\nnext\" user=alice\n")
    }

    @Test func journalLinesCarryThePriorityAndNoTime() {
        let line = Self.text(
            LineLogHandler.line(
                level: .warning, message: "peer denied by policy", metadata: ["peer": "10.0.0.1:5000"],
                name: "stagedoor-turn", prefix: nil))
        #expect(line == "<4>stagedoor-turn warning: peer denied by policy peer=10.0.0.1:5000\n")
    }

    @Test func quotingKeepsNonASCIIText() {
        #expect(LineLogHandler.quoted("Bühne 1") == "\"Bühne 1\"")
        #expect(LineLogHandler.quoted("Bühne") == "Bühne")
        #expect(LineLogHandler.quoted("a=b") == "\"a=b\"")
    }
}
