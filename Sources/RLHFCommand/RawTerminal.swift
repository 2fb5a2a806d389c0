import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by the SIGWINCH handler; the key loop redraws when it sees it.
nonisolated(unsafe) private var terminalResized: sig_atomic_t = 0

/// The controlling terminal in raw mode (termios): no echo, no line buffering, keys read one at a time.
/// Restores the original mode and the main screen on `restore()`.
final class RawTerminal {
    private var original = termios()
    private var active = false

    /// Switches stdin to raw mode, enters the alternate screen and installs the SIGWINCH handler.
    /// - Throws: `ValidationError`-like `TerminalError` when stdin/stdout is not a terminal.
    init() throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw TerminalError.notATerminal }
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { throw TerminalError.notATerminal }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        raw.c_oflag &= ~tcflag_t(OPOST)
        raw.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)
        active = true
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in terminalResized = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: poll() returns EINTR on resize
        sigaction(SIGWINCH, &action, nil)
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    /// Leaves raw mode and the alternate screen (idempotent).
    func restore() {
        guard active else { return }
        write("\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
        active = false
    }

    deinit { restore() }

    /// Columns and rows from TIOCGWINSZ (80x24 when unknown).
    var size: (width: Int, height: Int) {
        var ws = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 { return (Int(ws.ws_col), Int(ws.ws_row)) }
        return (80, 24)
    }

    /// Draws full-screen lines (each already fitted to the width).
    func draw(_ lines: [String]) {
        write("\u{1B}[H" + lines.joined(separator: "\r\n") + "\u{1B}[J")
    }

    func write(_ s: String) {
        let bytes = Array(s.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n <= 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }

    /// A key press, or a resize.
    enum Event: Equatable { case key(String), resize }

    /// Waits for the next key (escape sequences like PgDn come as one string) or a resize.
    func next() -> Event {
        while true {
            if terminalResized != 0 { terminalResized = 0; return .resize }
            var pfd = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, 250)
            if r < 0 { continue }  // EINTR: SIGWINCH
            if r == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = read(STDIN_FILENO, &buffer, 16)
            if n <= 0 { if n == 0 { return .key("q") }; continue }
            return .key(String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }
}

/// Terminal setup failures.
enum TerminalError: Error, CustomStringConvertible {
    case notATerminal
    var description: String { "rlhf label needs an interactive terminal (stdin and stdout must be a TTY)" }
}
