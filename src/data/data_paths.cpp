// Expanding the --data arguments into the list of files, one per worker.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "lag/dataset.hpp"
#include "lag/error.hpp"

namespace lag {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDataExtensions[] = {".svm", ".libsvm", ".svmlight", ".txt", ".csv", ".data"};
constexpr const char* kDataExtensionList = ".svm .libsvm .svmlight .txt .csv .data";

bool has_data_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(std::begin(kDataExtensions), std::end(kDataExtensions), ext) !=
         std::end(kDataExtensions);
}

// The data files directly in `dir`, sorted by name. Hidden files are skipped: editors and
// macOS leave ".name.csv.swp" or "._name.csv" next to real data.
std::vector<std::string> files_in(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw InputError(dir, 0, 0, "cannot list the directory: " + ec.message());

  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& file = it->path();
    const std::string name = file.filename().string();
    std::error_code type_ec;
    if (name.empty() || name[0] == '.' || !has_data_extension(file)) continue;
    if (!fs::is_regular_file(it->status(type_ec)) || type_ec) continue;  // follows links
    names.push_back(name);
  }
  if (ec) throw InputError(dir, 0, 0, "cannot list the directory: " + ec.message());
  if (names.empty()) {
    throw InputError(
        dir, 0, 0,
        std::string("directory has no data files (looked for ") + kDataExtensionList + ")");
  }
  std::sort(names.begin(), names.end());

  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const std::string& name : names) paths.push_back((fs::path(dir) / name).string());
  return paths;
}

}  // namespace

std::vector<std::string> expand_data_paths(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  for (const std::string& arg : args) {
    if (arg.empty()) throw Error("an empty data path was given");
    std::error_code ec;
    const fs::file_status status = fs::status(arg, ec);
    if (status.type() == fs::file_type::not_found) {
      throw InputError(arg, 0, 0, "no such file or directory");
    }
    if (ec) throw InputError(arg, 0, 0, "cannot access: " + ec.message());
    if (fs::is_directory(status)) {
      const std::vector<std::string> files = files_in(arg);
      paths.insert(paths.end(), files.begin(), files.end());
    } else {
      paths.push_back(arg);  // a file is kept as given, whatever its extension
    }
  }
  return paths;
}

}  // namespace lag
