import Foundation
import Logging
import Synchronization
import Testing

@testable import Worker

#if canImport(Glibc)
import Glibc
#endif

@Suite("systemd notifications")
struct SystemdNotifierTests {
    @Test("settings come from NOTIFY_SOCKET, WATCHDOG_USEC (halved) and WATCHDOG_PID")
    func settings() {
        #expect(SystemdNotifier.Settings(environment: [:]) == nil)
        let watched = SystemdNotifier.Settings(environment: ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"], pid: 7)
        #expect(watched?.socket == "/run/systemd/notify" && watched?.watchdogInterval == .seconds(15))
        #expect(SystemdNotifier.Settings(environment: ["NOTIFY_SOCKET": "@n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"], pid: 7)?.watchdogInterval == .seconds(15))
        let otherProcess = SystemdNotifier.Settings(environment: ["NOTIFY_SOCKET": "@n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"], pid: 7)
        #expect(otherProcess != nil && otherProcess?.watchdogInterval == nil, "the watchdog is another process's")
        #expect(SystemdNotifier.Settings(environment: ["NOTIFY_SOCKET": "@n"])?.watchdogInterval == nil)
    }

    /// A datagram socket standing in for systemd's.
    final class Listener: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
        let descriptor: Int32

        init() throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard descriptor >= 0, bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
            var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// The datagrams received within `seconds`.
        func received(within seconds: Double) -> [String] {
            var messages: [String] = []
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            var buffer = [UInt8](repeating: 0, count: 256)
            while ContinuousClock.now < deadline {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            }
            return messages
        }

        deinit {
            close(descriptor)
            unlink(path)
        }
    }

    final class Health: Sendable {
        let problem = Mutex<String?>(nil)
    }

    @Test("READY once it runs, WATCHDOG while healthy and none while not, STOPPING when stopped", .timeLimit(.minutes(1)))
    func notifies() async throws {
        let listener = try Listener()
        let health = Health()
        let settings = try #require(SystemdNotifier.Settings(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "100000"]))
        let notifier = SystemdNotifier(settings: settings, healthProblem: { health.problem.withLock { $0 } }, logger: Logger(label: "test"))
        let running = Task { await notifier.run() }

        let healthy = listener.received(within: 0.5)
        #expect(healthy.first == "READY=1", "\(healthy)")
        #expect(healthy.dropFirst().filter { $0 == "WATCHDOG=1" }.count >= 3, "\(healthy)")

        health.problem.withLock { $0 = "the Kafka poll loop has made no progress for 61 sec" }
        _ = listener.received(within: 0.1)
        let stuck = listener.received(within: 0.5)
        #expect(stuck.isEmpty, "no watchdog notification while unhealthy: \(stuck)")

        health.problem.withLock { $0 = nil }
        let recovered = listener.received(within: 0.4)
        #expect(recovered.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(recovered)")

        running.cancel()
        await running.value
        let stopping = listener.received(within: 0.2)
        #expect(stopping.last == "STOPPING=1", "\(stopping)")
    }
}
