// Errors that reach the user as one sentence.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace lag {

// Any failure the program reports to the user: bad options, diverged runs, solver failures.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input data. what() reads "FILE:LINE:COL: MESSAGE" (line/column omitted when 0), the form
// compilers use, so editors and terminals can jump to the place.
class InputError : public Error {
 public:
  InputError(std::string file, std::size_t line, std::size_t column, const std::string& message)
      : Error(format(file, line, column, message)),
        file_(std::move(file)),
        line_(line),
        column_(column) {}

  const std::string& file() const { return file_; }
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }

 private:
  static std::string format(const std::string& file, std::size_t line, std::size_t column,
                            const std::string& message) {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    if (line > 0 && column > 0) s += ":" + std::to_string(column);
    return s + ": " + message;
  }
  std::string file_;
  std::size_t line_ = 0;
  std::size_t column_ = 0;
};

}  // namespace lag
