// TerminalScreen: the full-screen mode of `jobgroup top` on a terminal. While
// it lives, stdin is in raw mode (no echo, no line buffering, Ctrl-C read as
// a key rather than a signal) and stdout shows the alternate screen with the
// cursor hidden; the destructor puts everything back, so every way out of
// the command (q, Ctrl-C, an error) restores the terminal. ReadKey() waits a
// bounded time for one key press.
//
// Thread-safety: not thread-safe; one thread owns it.
#ifndef JOBGROUP_CLIENT_TERMINAL_SCREEN_H_
#define JOBGROUP_CLIENT_TERMINAL_SCREEN_H_

#include <termios.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace jobgroup::client {

// Keys ReadKey() reports besides plain characters.
inline constexpr int kKeyUp = 0x100;
inline constexpr int kKeyDown = 0x101;
inline constexpr int kKeyCtrlC = 3;

// TerminalColumns() is the width of the terminal `fd` is on (80 when it
// cannot be asked).
int TerminalColumns(int fd);

class TerminalScreen {
 public:
  // Enters the mode. `in_fd` is read for keys when it is a terminal (else
  // ReadKey() only waits); `out` is the terminal stdout goes to.
  TerminalScreen(int in_fd, int out_fd, std::ostream& out);
  ~TerminalScreen();
  TerminalScreen(const TerminalScreen&) = delete;
  TerminalScreen& operator=(const TerminalScreen&) = delete;

  // TerminalScreen::ReadKey() waits at most `timeout` for a key: a
  // character, kKeyUp, kKeyDown (arrows) or kKeyCtrlC; nullopt when none.
  std::optional<int> ReadKey(absl::Duration timeout);

  // TerminalScreen::Draw() replaces the screen with `lines`, cut to the
  // terminal's height (the last line kept).
  void Draw(const std::vector<std::string>& lines);

  // The terminal's size now (80x24 when it cannot be asked).
  int width() const;
  int height() const;

 private:
  const int in_fd_;
  const int out_fd_;
  std::ostream& out_;
  bool raw_ = false;
  termios saved_{};
};

}  // namespace jobgroup::client

#endif  // JOBGROUP_CLIENT_TERMINAL_SCREEN_H_
