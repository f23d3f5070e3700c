// The IDX reader, raw and gzip. Each file is read alone (read_idx) and the pair as images and
// labels (load_idx_images), whose rows must then be the arrays read_idx gives.
#define ZLIB_CONST
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "harness_util.hpp"
#include "lag/error.hpp"
#include "lag/idx.hpp"

namespace lag::fuzz {
namespace {

// `bytes` as one gzip member.
std::string gzip(const std::string& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())), '\0');
  zs.next_in = reinterpret_cast<const Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  const int ret = deflate(&zs, Z_FINISH);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  if (ret != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

// The element type code of an IDX payload, when its bytes are known and have one.
std::optional<unsigned> type_code(const std::optional<std::string>& payload) {
  if (!payload || payload->size() < 3) return std::nullopt;
  return static_cast<unsigned char>((*payload)[2]);
}

// read_idx's promises: dims given, values as many as they say, integer types read as integers
// in their range.
void check_array(const IdxArray& a, std::optional<unsigned> code) {
  require(!a.dims.empty(), "an IDX array without dims");
  std::size_t count = 1;
  for (const std::size_t d : a.dims) count *= d;
  require(a.values.size() == count, "IDX values != product of dims");
  if (!code) return;
  double lo = 0, hi = 0;
  switch (*code) {
    case 0x08:
      lo = 0, hi = 255;
      break;
    case 0x09:
      lo = -128, hi = 127;
      break;
    case 0x0B:
      lo = -32768, hi = 32767;
      break;
    case 0x0C:
      lo = -2147483648.0, hi = 2147483647.0;
      break;
    default:
      return;  // float, double: anything
  }
  for (const double v : a.values) {
    require(v >= lo && v <= hi && v == std::floor(v), "an integer IDX element out of its type");
  }
}

std::optional<IdxArray> try_read(const std::string& path, std::optional<unsigned> code) {
  try {
    IdxArray a = read_idx(path);
    check_array(a, code);
    return a;
  } catch (const Error&) {
    return std::nullopt;
  }
}

int run(const std::uint8_t* data, std::size_t size, bool gzip_mode) {
  init_harness();
  static const InputFile label_file(gzip_mode ? "labels.idx.gz" : "labels.idx");
  static const InputFile image_file(gzip_mode ? "images.idx.gz" : "images.idx");
  if (size < 3) return 0;
  const unsigned flags = data[0];
  const bool bias = (flags & 1) != 0;
  const std::size_t limit = (flags >> 1) & 7;
  const std::size_t rest = size - 3;
  const std::size_t label_size = std::min<std::size_t>(data[1] | (data[2] << 8), rest);
  const std::string labels(reinterpret_cast<const char*>(data) + 3, label_size);
  const std::string images(reinterpret_cast<const char*>(data) + 3 + label_size, rest - label_size);
  // The IDX bytes, when known: raw files, and gzip files this harness compressed.
  std::optional<std::string> label_payload, image_payload;
  if (!gzip_mode) {
    label_payload = labels, image_payload = images;
    label_file.write(labels);
    image_file.write(images);
  } else {
    if (flags & 0x10) label_payload = labels;
    if (flags & 0x20) image_payload = images;
    label_file.write(label_payload ? gzip(labels) : labels);
    image_file.write(image_payload ? gzip(images) : images);
  }

  const std::optional<IdxArray> y = try_read(label_file.path(), type_code(label_payload));
  const std::optional<IdxArray> x = try_read(image_file.path(), type_code(image_payload));
  Shard<double> s;
  try {
    s = load_idx_images(image_file.path(), label_file.path(), bias, limit);
  } catch (const Error&) {
    return 0;
  }
  check_shard(s, false);
  require(x && y, "load_idx_images accepted files that read_idx refuses");
  require(x->dims.size() >= 2 && y->dims.size() == 1 && x->dims[0] == y->dims[0],
          "load_idx_images: image and label dims do not fit");
  const std::size_t count = x->dims[0];
  const std::size_t pixels = x->values.size() / count;
  require(s.rows == (limit > 0 ? std::min(limit, count) : count), "load_idx_images: rows");
  require(s.dim == pixels + (bias ? 1 : 0), "load_idx_images: dim");
  const std::optional<unsigned> code = type_code(image_payload);
  for (std::size_t i = 0; i < s.rows; ++i) {
    const double label = s.y[i];
    require(label >= 0 && label == std::floor(label) && label == y->values[i],
            "load_idx_images: a label that is not its class index");
    const double* row = s.row(i);
    if (code) {
      for (std::size_t j = 0; j < pixels; ++j) {
        const double v = x->values[i * pixels + j];
        require(row[j] == (*code == 0x08 ? v / 255.0 : v), "load_idx_images: a pixel differs");
      }
    }
    if (bias) require(row[pixels] == 1.0, "load_idx_images: the bias feature is not 1");
  }
  return 0;
}

}  // namespace

int fuzz_idx(const std::uint8_t* data, std::size_t size) { return run(data, size, false); }
int fuzz_idx_gzip(const std::uint8_t* data, std::size_t size) { return run(data, size, true); }

}  // namespace lag::fuzz
