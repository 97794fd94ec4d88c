#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle

/// Tells systemd how the worker is doing when it runs as a `Type=notify` unit (`NOTIFY_SOCKET`
/// set): `READY=1` once it runs, `WATCHDOG=1` every half `WatchdogSec` while `/healthz` would say
/// ok, and `STOPPING=1` on a graceful shutdown. When health fails it stops notifying, so that
/// systemd's watchdog restarts a worker whose poll loop is stuck. Without `NOTIFY_SOCKET` there is
/// nothing to tell.
struct SystemdNotifier: Service {
    /// Where and how often to notify, from systemd's environment.
    struct Settings: Sendable, Equatable {
        /// The datagram socket: a path, or `@` and an abstract name.
        var socket: String
        /// Half of `WatchdogSec`; nil when the unit has no watchdog.
        var watchdogInterval: Duration?

        /// Read from `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (the watchdog is this
        /// process's only when the PID is absent or its own); nil without `NOTIFY_SOCKET`.
        init?(environment: [String: String], pid: Int32 = getpid()) {
            guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
            self.socket = socket
            let forThisProcess = environment["WATCHDOG_PID"].map { Int32($0) == pid } ?? true
            let microseconds = environment["WATCHDOG_USEC"].flatMap(Int64.init).flatMap { $0 > 0 ? $0 : nil }
            watchdogInterval = forThisProcess ? microseconds.map { .microseconds($0 / 2) } : nil
        }
    }

    let settings: Settings
    /// Why the worker is unhealthy, or nil when `/healthz` would say ok.
    let healthProblem: @Sendable () -> String?
    let logger: Logger

    func run() async {
        send("READY=1")
        guard let interval = settings.watchdogInterval else {
            try? await gracefulShutdown()
            send("STOPPING=1")
            return
        }
        await cancelWhenGracefulShutdown {
            var reported: String?
            while (try? await Task.sleep(for: interval)) != nil {
                let problem = healthProblem()
                if let problem, reported == nil {
                    logger.error("Unhealthy: no longer notifying systemd's watchdog, which restarts the worker after WatchdogSec", metadata: ["problem": "\(problem)"])
                } else if problem == nil, reported != nil {
                    logger.notice("Healthy again: notifying systemd's watchdog")
                }
                reported = problem
                if problem == nil { send("WATCHDOG=1") }
            }
        }
        send("STOPPING=1")
    }

    /// Sends one datagram; systemd may be gone (a failure is logged, never fatal).
    private func send(_ state: String) {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            logger.warning("Cannot notify systemd: no socket", metadata: ["errno": "\(errno)"])
            return
        }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(settings.socket.utf8)
        // An abstract socket's name starts with a NUL byte where the text has `@`.
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            logger.warning("Cannot notify systemd: NOTIFY_SOCKET is too long", metadata: ["socket": "\(settings.socket)"])
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Array(state.utf8).withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        if sent < 0 {
            logger.warning("Cannot notify systemd", metadata: ["state": "\(state)", "errno": "\(errno)"])
        }
    }
}
