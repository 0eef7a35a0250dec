import Testing

@testable import STUN

@Suite("Message type, method, class, transaction ID (RFC 8489 §5)")
struct MessageTypeTests {
    @Test(
        "Known wire values",
        arguments: [
            (STUNMethod.binding, STUNClass.request, UInt16(0x0001)),
            (.binding, .indication, 0x0011),
            (.binding, .successResponse, 0x0101),
            (.binding, .errorResponse, 0x0111),
            (.allocate, .request, 0x0003),
            (.allocate, .successResponse, 0x0103),
            (.allocate, .errorResponse, 0x0113),
            (.refresh, .request, 0x0004),
            (.send, .indication, 0x0016),
            (.data, .indication, 0x0017),
            (.createPermission, .request, 0x0008),
            (.createPermission, .successResponse, 0x0108),
            (.channelBind, .request, 0x0009),
            (.channelBind, .errorResponse, 0x0119),
            (STUNMethod(rawValue: 0xFFF), .errorResponse, 0x3FFF),
            (STUNMethod(rawValue: 0x080), .request, 0x0200),
        ])
    func wireValues(method: STUNMethod, messageClass: STUNClass, raw: UInt16) throws {
        let type = STUNMessageType(method: method, messageClass: messageClass)
        #expect(type.rawValue == raw)
        let parsed = try #require(STUNMessageType(rawValue: raw))
        #expect(parsed == type)
    }

    @Test("Every 14-bit value round-trips; values with either top bit set are rejected")
    func allValues() throws {
        for raw in UInt16(0)..<0x4000 {
            let type = try #require(STUNMessageType(rawValue: raw))
            #expect(type.rawValue == raw)
        }
        for raw in [UInt16(0x4000), 0x8000, 0xC001, 0xFFFF] {
            #expect(STUNMessageType(rawValue: raw) == nil)
        }
    }

    @Test("Methods keep 12 bits")
    func methodBits() {
        #expect(STUNMethod(rawValue: 0xF001) == .binding)
        #expect(STUNMethod.channelBind.rawValue == 0x009)
        #expect(STUNMethod.allocate.description == "Allocate")
    }

    @Test("Transaction IDs are 12 bytes")
    func transactionIDs() {
        #expect(TransactionID(bytes: Array(repeating: 1, count: 11)) == nil)
        #expect(TransactionID(bytes: Array(repeating: 1, count: 13)) == nil)
        #expect(TransactionID(bytes: Array(repeating: 1, count: 12)) != nil)
        let first = TransactionID.random()
        let second = TransactionID.random()
        #expect(first.bytes.count == 12)
        #expect(first != second)
        var generator = SeededGenerator(seed: 7)
        var again = SeededGenerator(seed: 7)
        #expect(TransactionID.random(using: &generator) == TransactionID.random(using: &again))
    }

    @Test("A transaction ID of the wrong length still encodes 12 bytes")
    func wrongLengthTransactionID() throws {
        var message = STUNMessage(type: .bindingRequest, transactionID: .random())
        message.transactionID.bytes = [1, 2, 3]
        let parsed = try STUNCodec.decode(message.encode())
        #expect(parsed.message.transactionID.bytes == [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }
}
