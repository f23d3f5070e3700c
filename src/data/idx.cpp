// IDX files (the MNIST format). The whole payload is decompressed into memory first and then
// converted in one pass: pulling elements one by one through gzread would be many times slower,
// and checking the size against the header needs the whole payload anyway.
#include "lag/idx.hpp"

#define ZLIB_CONST  // next_in is then a pointer to const, so the input needs no cast
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <limits>
#include <new>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "data/data_internal.hpp"
#include "lag/error.hpp"
#include "lag/huge_pages.hpp"

namespace lag {
namespace {

struct ElementType {
  unsigned code;
  std::size_t size;
  const char* name;
};

const ElementType* element_type(unsigned code) {
  static constexpr ElementType kTypes[] = {{0x08, 1, "ubyte"}, {0x09, 1, "sbyte"},
                                           {0x0B, 2, "short"}, {0x0C, 4, "int"},
                                           {0x0D, 4, "float"}, {0x0E, 8, "double"}};
  for (const ElementType& t : kTypes) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

std::string hex_byte(unsigned char b) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(b));
  return text;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::uint64_t be64(const unsigned char* p) {
  return (std::uint64_t{be32(p)} << 32) | std::uint64_t{be32(p + 4)};
}

// What the header says, filled as far as scan_header got.
struct Layout {
  const ElementType* type = nullptr;
  std::size_t header = 4;  // magic (4 bytes) + one 32-bit size per dimension
  std::vector<std::size_t> dims;
  std::size_t count = 0;  // elements
  std::size_t data_bytes = 0;
};

enum class HeaderStatus { Ok, Incomplete, BadMagic, UnknownType, NoDims, TooLarge };

// Reads the header from the first n bytes without judging the rest. Used while decompressing
// (to stop keeping bytes past the declared data) as well as for the final checks, so it never
// throws.
HeaderStatus scan_header(const unsigned char* p, std::size_t n, Layout& out) {
  for (std::size_t i = 0; i < 2 && i < n; ++i) {
    if (p[i] != 0) return HeaderStatus::BadMagic;
  }
  if (n < 3) return HeaderStatus::Incomplete;
  out.type = element_type(p[2]);
  if (out.type == nullptr) return HeaderStatus::UnknownType;
  if (n < 4) return HeaderStatus::Incomplete;
  const std::size_t ndims = p[3];
  if (ndims == 0) return HeaderStatus::NoDims;
  out.header = 4 + 4 * ndims;
  if (n < out.header) return HeaderStatus::Incomplete;
  out.dims.resize(ndims);
  bool empty = false;
  for (std::size_t i = 0; i < ndims; ++i) {
    out.dims[i] = be32(p + 4 + 4 * i);
    empty = empty || out.dims[i] == 0;
  }
  // Every element becomes a double, so the count must fit that way too; the margin keeps
  // header + data from overflowing.
  const std::size_t max_count =
      (std::numeric_limits<std::size_t>::max() - 4096) / std::max(out.type->size, sizeof(double));
  std::size_t count = empty ? 0 : 1;
  for (std::size_t i = 0; i < ndims && !empty; ++i) {
    if (count > max_count / out.dims[i]) return HeaderStatus::TooLarge;
    count *= out.dims[i];
  }
  out.count = count;
  out.data_bytes = count * out.type->size;
  return HeaderStatus::Ok;
}

// Bytes worth keeping from a payload whose first n bytes are known: everything while the
// header is incomplete, the declared size once it is complete, and what is there when the
// header is already wrong (the error is reported from those bytes).
std::size_t declared_size(const unsigned char* p, std::size_t n) {
  Layout layout;
  switch (scan_header(p, n, layout)) {
    case HeaderStatus::Ok:
      return layout.header + layout.data_bytes;
    case HeaderStatus::Incomplete:
      return std::numeric_limits<std::size_t>::max();
    default:
      return n;
  }
}

struct Payload {
  std::string bytes;          // the IDX bytes (decompressed for a gzip file)
  std::uint64_t dropped = 0;  // decompressed bytes past the declared data: counted, not kept
  bool gzip = false;

  const unsigned char* data() const { return reinterpret_cast<const unsigned char*>(bytes.data()); }
  // Offsets in messages about a gzip file are in its decompressed data.
  std::string offset(std::size_t at) const {
    return "byte offset " + std::to_string(at) + (gzip ? " of the decompressed data" : "");
  }
};

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

class Inflater {
 public:
  explicit Inflater(const std::string& path) {
    // 16 + MAX_WBITS: gzip wrapper only (the magic was checked), CRC and length verified.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
      throw InputError(path, 0, 0, "cannot start zlib to decompress it");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
};

// A gzip file's last four bytes: the (last member's) decompressed size mod 2^32.
std::size_t gzip_size_mod_2_32(const std::string& in) {
  if (in.size() < 18) return 0;  // no room for a header and trailer
  const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
  return std::uint32_t{t[0]} | (std::uint32_t{t[1]} << 8) | (std::uint32_t{t[2]} << 16) |
         (std::uint32_t{t[3]} << 24);
}

// The most a gzip file can decompress to (deflate's 1032:1 limit, with some slack).
std::size_t max_gunzipped(const std::string& in) { return in.size() * 1032 + 1024; }

// Decompresses a whole gzip file. Bytes past the size the IDX header declares are only
// counted (into `dropped`), so that a file with a huge tail still gets its trailing-garbage
// message without that tail in memory.
std::string gunzip(const std::string& path, const std::string& in, std::uint64_t& dropped) {
  Inflater inflater(path);
  z_stream& zs = inflater.stream();

  // The trailer gives the size exactly for ordinary files, so one allocation usually suffices.
  // Deflate expands at most about 1032:1, which bounds the trust put in a corrupt trailer.
  const std::size_t hint =
      std::max(std::size_t{1} << 16, std::min(gzip_size_mod_2_32(in), max_gunzipped(in)));
  std::string out(hint, '\0');
  std::string scratch(std::size_t{1} << 16, '\0');
  std::size_t used = 0;

  const auto* input = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t fed = 0;  // input bytes handed to zlib so far (avail_in is only 32 bits)
  const auto consumed = [&] { return fed - zs.avail_in; };
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      const std::size_t chunk = std::min<std::size_t>(in.size() - fed, UINT_MAX);
      zs.next_in = input + fed;
      zs.avail_in = static_cast<uInt>(chunk);
      fed += chunk;
    }
    const std::size_t keep =
        declared_size(reinterpret_cast<const unsigned char*>(out.data()), used);
    const bool keeping = used < keep;
    unsigned char* dst = nullptr;
    std::size_t room = 0;
    if (keeping) {
      if (used == out.size()) out.resize(std::min(out.size() * 2, std::max(keep, out.size() + 1)));
      dst = reinterpret_cast<unsigned char*>(&out[used]);
      room = std::min(out.size(), keep) - used;
    } else {
      dst = reinterpret_cast<unsigned char*>(&scratch[0]);
      room = scratch.size();
    }
    zs.next_out = dst;
    zs.avail_out = static_cast<uInt>(std::min<std::size_t>(room, UINT_MAX));
    const uInt before = zs.avail_out;
    const int ret = inflate(&zs, Z_NO_FLUSH);
    const std::size_t produced = before - zs.avail_out;
    if (keeping) {
      used += produced;
      // The header may have completed within this chunk; drop what went past its data.
      const std::size_t limit =
          declared_size(reinterpret_cast<const unsigned char*>(out.data()), used);
      if (used > limit) {
        dropped += used - limit;
        used = limit;
      }
    } else {
      dropped += produced;
    }

    if (ret == Z_STREAM_END) {
      const std::size_t at = consumed();
      if (at == in.size()) break;
      // Concatenated members (`cat a.gz b.gz`) are one file to gunzip, and so here.
      if (in.size() - at >= 2 && input[at] == 0x1f && input[at + 1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      throw InputError(path, 0, 0,
                       "corrupt gzip stream: " + std::to_string(in.size() - at) +
                           " unexpected bytes after the compressed data (at byte offset " +
                           std::to_string(at) + ")");
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && zs.avail_in == 0) {
      if (fed < in.size()) continue;
      throw InputError(path, 0, 0,
                       "corrupt gzip stream: it ends early, after " + std::to_string(in.size()) +
                           " compressed bytes (the file is cut off)");
    }
    const std::string why = zs.msg != nullptr ? zs.msg : "zlib error " + std::to_string(ret);
    throw InputError(path, 0, 0,
                     "corrupt gzip stream: " + why + " (near compressed byte offset " +
                         std::to_string(consumed()) + ")");
  }
  out.resize(used);
  return out;
}

// A file's bytes as an IDX payload (decompressed when it is gzip).
Payload to_payload(const std::string& path, std::string&& file) {
  Payload p;
  if (is_gzip(file)) {
    p.bytes = gunzip(path, file, p.dropped);
    p.gzip = true;
  } else {
    p.bytes = std::move(file);
  }
  return p;
}

Payload read_payload(const std::string& path) { return to_payload(path, detail::read_text(path)); }

// The longest header: magic and 255 dimensions.
constexpr std::size_t kMaxHeader = 4 + 4 * 255;

// The first bytes of a file's payload, enough for its header, without decompressing the rest.
// Whatever goes wrong here is left for the full read to report.
std::string peek_header(const std::string& path, const std::string& file) {
  if (!is_gzip(file)) return file.substr(0, kMaxHeader);
  Inflater inflater(path);
  z_stream& zs = inflater.stream();
  std::string out(kMaxHeader, '\0');
  zs.next_in = reinterpret_cast<const unsigned char*>(file.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(file.size(), UINT_MAX));
  zs.next_out = reinterpret_cast<unsigned char*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  while (zs.avail_out > 0 && inflate(&zs, Z_NO_FLUSH) == Z_OK) {
  }
  out.resize(out.size() - zs.avail_out);
  return out;
}

// The header of a file's payload, when it parses and the file's size agrees with it; false
// otherwise, leaving the full read to say what is wrong. The size check keeps a header that
// claims far more than the file holds from having that much memory allocated ahead.
bool peek_layout(const std::string& path, const std::string& file, Layout& out) {
  const std::string head = peek_header(path, file);
  if (scan_header(reinterpret_cast<const unsigned char*>(head.data()), head.size(), out) !=
      HeaderStatus::Ok) {
    return false;
  }
  const std::size_t total = out.header + out.data_bytes;
  if (!is_gzip(file)) return total == file.size();
  return total <= max_gunzipped(file) && total % (std::size_t{1} << 32) == gzip_size_mod_2_32(file);
}

// The converted array is large (376 MB of doubles for Fashion-MNIST's training images), and
// faulting its pages in takes about as long as decompressing the file, so it is allocated on
// another thread meanwhile, its size taken from the header decompressed ahead.
std::future<std::vector<double>> allocate_ahead(std::size_t n) {
  try {
    return std::async(std::launch::async, [n] {
      std::vector<double> v;
      reserve_huge(v, n);
      v.resize(n);
      return v;
    });
  } catch (const std::system_error&) {
    return {};  // no thread to be had: take() allocates instead
  }
}

// The array from allocate_ahead, or a new one (no head start, or another size after all).
std::vector<double> take(std::future<std::vector<double>>& ahead, std::size_t n) {
  std::vector<double> v;
  if (ahead.valid()) v = ahead.get();
  if (v.size() != n) {
    v.clear();
    reserve_huge(v, n);
    v.assign(n, 0.0);
  }
  return v;
}

// A value for a message: integers in full ("10", not detail::format_number's "1e+01").
std::string value_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  return detail::format_number(v);
}

std::string dims_text(const std::vector<std::size_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += " x ";
    s += std::to_string(dims[i]);
  }
  return s;
}

// The header, checked against the payload; throws InputError naming what is wrong.
Layout parse_layout(const std::string& path, const Payload& payload) {
  const unsigned char* p = payload.data();
  const std::size_t n = payload.bytes.size();
  Layout layout;
  switch (scan_header(p, n, layout)) {
    case HeaderStatus::Ok:
      break;
    case HeaderStatus::BadMagic: {
      std::string found = hex_byte(p[0]);
      if (n >= 2) found += " " + hex_byte(p[1]);
      throw InputError(path, 0, 0,
                       "not an IDX file: the first two bytes must be 0x00 0x00, found " + found);
    }
    case HeaderStatus::Incomplete:
      throw InputError(path, 0, 0,
                       "truncated header: expected " + std::to_string(layout.header) +
                           " bytes, found " + std::to_string(n));
    case HeaderStatus::UnknownType:
      throw InputError(path, 0, 0,
                       "unknown element type code " + hex_byte(p[2]) + " at " + payload.offset(2) +
                           " (expected 0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float "
                           "or 0x0E double)");
    case HeaderStatus::NoDims:
      throw InputError(
          path, 0, 0,
          "zero dimensions at " + payload.offset(3) + " (an IDX array has at least one)");
    case HeaderStatus::TooLarge:
      throw InputError(
          path, 0, 0,
          "absurd dimensions " + dims_text(layout.dims) + ": more elements than memory can hold");
  }
  const std::uint64_t found = (n - layout.header) + payload.dropped;
  if (found < layout.data_bytes) {
    throw InputError(path, 0, 0,
                     "truncated: expected " + std::to_string(layout.data_bytes) +
                         " bytes of data, found " + std::to_string(found) + " (dims " +
                         dims_text(layout.dims) + ", " + layout.type->name + ")");
  }
  if (found > layout.data_bytes) {
    throw InputError(path, 0, 0,
                     "trailing garbage: " + std::to_string(found - layout.data_bytes) +
                         " extra bytes after the data, from " +
                         payload.offset(layout.header + layout.data_bytes) + " (dims " +
                         dims_text(layout.dims) + ", " + layout.type->name + ")");
  }
  return layout;
}

// `count` big-endian elements of type `t` from src, as doubles.
void decode(const unsigned char* src, const ElementType& t, std::size_t count, double* dst) {
  switch (t.code) {
    case 0x08:
      for (std::size_t i = 0; i < count; ++i) dst[i] = src[i];
      break;
    case 0x09:
      for (std::size_t i = 0; i < count; ++i) dst[i] = static_cast<std::int8_t>(src[i]);
      break;
    case 0x0B:
      for (std::size_t i = 0; i < count; ++i) {
        const auto u = static_cast<std::uint16_t>((src[2 * i] << 8) | src[2 * i + 1]);
        dst[i] = static_cast<std::int16_t>(u);
      }
      break;
    case 0x0C:
      for (std::size_t i = 0; i < count; ++i) dst[i] = static_cast<std::int32_t>(be32(src + 4 * i));
      break;
    case 0x0D:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t u = be32(src + 4 * i);
        float f;
        std::memcpy(&f, &u, sizeof f);
        dst[i] = f;
      }
      break;
    case 0x0E:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t u = be64(src + 8 * i);
        double d;
        std::memcpy(&d, &u, sizeof d);
        dst[i] = d;
      }
      break;
    default:
      break;  // scan_header admits no other code
  }
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  try {
    std::string file = detail::read_text(path);
    std::future<std::vector<double>> values;
    Layout head;
    if (peek_layout(path, file, head)) values = allocate_ahead(head.count);
    const Payload payload = to_payload(path, std::move(file));
    const Layout layout = parse_layout(path, payload);
    IdxArray out;
    out.dims = layout.dims;
    out.values = take(values, layout.count);
    decode(payload.data() + layout.header, *layout.type, layout.count, out.values.data());
    return out;
  } catch (const std::bad_alloc&) {
    throw InputError(path, 0, 0, "not enough memory to load it");
  }
}

namespace {

struct ImageShape {
  std::size_t rows = 0;    // images kept
  std::size_t pixels = 0;  // per image
  std::size_t dim = 0;     // pixels (+ bias)
};

// The shard's shape from the two headers; throws InputError when they do not fit together.
ImageShape image_shape(const std::string& images, const std::string& labels, const Layout& image,
                       const Layout& label, bool bias, std::size_t limit) {
  if (image.dims.size() < 2) {
    throw InputError(images, 0, 0,
                     "an image file needs at least 2 dimensions (images x pixels), found " +
                         dims_text(image.dims));
  }
  if (label.dims.size() != 1) {
    throw InputError(labels, 0, 0,
                     "a label file must be 1-dimensional, found dims " + dims_text(label.dims));
  }
  const std::size_t count = image.dims[0];
  if (count != label.dims[0]) {
    throw InputError(images, 0, 0,
                     "has " + std::to_string(count) + " images but " + labels + " has " +
                         std::to_string(label.dims[0]) + " labels");
  }
  if (count == 0) throw InputError(images, 0, 0, "has no images");
  ImageShape shape;
  shape.pixels = image.count / count;
  if (shape.pixels == 0) {
    throw InputError(images, 0, 0, "images have no pixels (dims " + dims_text(image.dims) + ")");
  }
  shape.rows = limit > 0 ? std::min(limit, count) : count;
  shape.dim = shape.pixels + (bias ? 1 : 0);
  detail::check_dense_size(images, shape.rows, shape.dim, 0, 0,
                           "image dims " + dims_text(image.dims));
  return shape;
}

}  // namespace

Shard<double> load_idx_images(const std::string& images, const std::string& labels, bool bias,
                              std::size_t limit) {
  Payload label_data;
  Layout label;
  try {
    label_data = read_payload(labels);
    label = parse_layout(labels, label_data);
  } catch (const std::bad_alloc&) {
    throw InputError(labels, 0, 0, "not enough memory to load it");
  }

  Shard<double> s;
  Payload image_data;
  Layout image;
  ImageShape shape;
  try {
    std::string image_file = detail::read_text(images);
    // The headers' mismatches are reported from the peeked header already, before the
    // decompression: the same header, so the same message.
    std::future<std::vector<double>> matrix;
    Layout head;
    if (peek_layout(images, image_file, head)) {
      const ImageShape ahead = image_shape(images, labels, head, label, bias, limit);
      matrix = allocate_ahead(ahead.rows * ahead.dim);
    }
    image_data = to_payload(images, std::move(image_file));
    image = parse_layout(images, image_data);
    shape = image_shape(images, labels, image, label, bias, limit);
    s.x = take(matrix, shape.rows * shape.dim);
    s.y.resize(shape.rows);
  } catch (const std::bad_alloc&) {
    throw InputError(images, 0, 0, "not enough memory to load it");
  }
  s.source = images;
  s.rows = shape.rows;
  s.dim = shape.dim;
  const std::size_t rows = shape.rows;
  const std::size_t dim = shape.dim;
  const std::size_t pixels = shape.pixels;

  decode(label_data.data() + label.header, *label.type, rows, s.y.data());
  for (std::size_t i = 0; i < rows; ++i) {
    const double y = s.y[i];
    if (y >= 0 && y == std::floor(y) && std::isfinite(y)) continue;
    throw InputError(labels, 0, 0,
                     "label " + value_text(y) + " of image " + std::to_string(i) +
                         " (0-based), at " +
                         label_data.offset(label.header + i * label.type->size) +
                         ", is not a class index (expected an integer >= 0)");
  }

  const std::size_t row_bytes = pixels * image.type->size;
  const unsigned char* src = image_data.data() + image.header;
  const bool is_float = image.type->code == 0x0D || image.type->code == 0x0E;
  // b / 255.0 for every byte value: the exact quotient, without a division per pixel.
  double scaled[256];
  for (unsigned b = 0; b < 256; ++b) scaled[b] = b / 255.0;
  for (std::size_t i = 0; i < rows; ++i) {
    const unsigned char* from = src + i * row_bytes;
    double* to = s.x.data() + i * dim;
    if (image.type->code == 0x08) {
      for (std::size_t j = 0; j < pixels; ++j) to[j] = scaled[from[j]];
    } else {
      decode(from, *image.type, pixels, to);
    }
    if (is_float) {
      const double* bad = std::find_if(to, to + pixels, [](double v) { return !std::isfinite(v); });
      if (bad != to + pixels) {
        const auto j = static_cast<std::size_t>(bad - to);
        throw InputError(
            images, 0, 0,
            "pixel value " + value_text(*bad) + " in image " + std::to_string(i) +
                " (0-based), pixel " + std::to_string(j) + ", at " +
                image_data.offset(image.header + i * row_bytes + j * image.type->size) +
                ", is not finite");
      }
    }
    if (bias) to[pixels] = 1.0;
  }
  return s;
}

}  // namespace lag
