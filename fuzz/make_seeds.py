#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (fuzz/corpus/HARNESS/): a few valid and a few
malformed inputs each. The IDX inputs are in the harnesses' framing (fuzz/harness.hpp): a flags
byte, the label file's length (2 bytes, little-endian), the label file, the image file."""
import gzip
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    folder = os.path.join(HERE, "corpus", harness)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx(type_code, dims, data):
    head = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + data


def framed(flags, labels, images):
    return bytes([flags]) + struct.pack("<H", len(labels)) + labels + images


def gz(data):
    # mtime 0: the same bytes on every run
    return gzip.compress(data, compresslevel=9, mtime=0)


def main():
    # ---- LIBSVM
    write("libsvm", "valid_binary", "+1 1:0.5 3:-2\n-1 2:1e-3 4:7\n")
    write("libsvm", "valid_qid_comment", "# header comment\n0 qid:3 1:1 2:2 # trailing\n\n1 5:0.25\n")
    write("libsvm", "valid_crlf_bom", "\ufeff1 1:1\r\n2 2:2.5\r\n3\r\n")
    write("libsvm", "valid_sparse_wide", "1 1:1 100000:2\n0 7:3\n")
    write("libsvm", "bad_nan", "1 1:nan\n")
    write("libsvm", "bad_index_order", "1 3:1 2:1\n")
    write("libsvm", "bad_index_zero", "1 0:1\n")
    write("libsvm", "bad_huge_index", "1 4294967296:1\n")
    write("libsvm", "bad_label", "a 1:1\n")
    write("libsvm", "bad_gzip", gz(b"1 1:1\n"))
    # ---- CSV
    write("csv", "valid_header", "label,a,b\n1,0.5,2\n0,-1,3e2\n")
    write("csv", "valid_no_header", "1,2,3\n4,5,6\n\n7,8,9\n")
    write("csv", "valid_blanks_crlf", " 1 , 2 \r\n-1,\t3\r\n")
    write("csv", "bad_ragged", "1,2,3\n4,5\n")
    write("csv", "bad_inf", "1,inf\n")
    write("csv", "bad_empty_field", "1,,3\n")
    write("csv", "bad_header_only", "a,b,c\n")
    write("csv", "bad_semicolons", "1;2;3\n")
    write("csv", "bad_one_field", "1\n2\n")
    # ---- IDX raw
    labels = idx(0x08, [3], bytes([0, 1, 2]))
    images = idx(0x08, [3, 2, 2], bytes(range(0, 240, 20)))
    write("idx", "valid_ubyte", framed(0x00, labels, images))
    write("idx", "valid_ubyte_bias_limit", framed(0x05, labels, images))
    write("idx", "valid_float", framed(0x00, labels, idx(0x0D, [3, 1], struct.pack(">3f", 0.5, -1, 2))))
    write("idx", "valid_double", framed(0x01, idx(0x0C, [2], struct.pack(">2i", 3, 4)),
                                        idx(0x0E, [2, 1, 1], struct.pack(">2d", 1e300, -0.0))))
    write("idx", "valid_short_sbyte", framed(0x00, idx(0x09, [2], bytes([1, 2])),
                                             idx(0x0B, [2, 2], struct.pack(">4h", -5, 300, 0, 7))))
    write("idx", "bad_nan_pixel", framed(0x00, idx(0x08, [1], b"\0"),
                                         idx(0x0D, [1, 1], struct.pack(">f", float("nan")))))
    write("idx", "bad_negative_label", framed(0x00, idx(0x09, [1], b"\xff"), idx(0x08, [1, 1], b"\1")))
    write("idx", "bad_truncated", framed(0x00, labels, images[:-3]))
    write("idx", "bad_trailing", framed(0x00, labels, images + b"xyz"))
    write("idx", "bad_type", framed(0x00, labels, bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5])))
    write("idx", "bad_count_mismatch", framed(0x00, idx(0x08, [2], b"\0\1"), images))
    write("idx", "bad_huge_dims", framed(0x00, labels, idx(0x08, [0xffffffff, 0xffffffff, 0xffff], b"")))
    # ---- IDX gzip: bits 4 and 5 compress the labels and images in the harness; clear, the
    # bytes are given (here as gzip files made by Python, whole, cut off and corrupted)
    write("idx_gzip", "valid_compress_both", framed(0x30, labels, images))
    write("idx_gzip", "valid_given_both", framed(0x00, gz(labels), gz(images)))
    write("idx_gzip", "valid_concatenated", framed(0x10, labels, gz(images[:10]) + gz(images[10:])))
    write("idx_gzip", "bad_cut_off", framed(0x10, labels, gz(images)[:-6]))
    corrupt = bytearray(gz(images))
    corrupt[12] ^= 0x55
    write("idx_gzip", "bad_corrupt", framed(0x10, labels, bytes(corrupt)))
    write("idx_gzip", "bad_trailing_garbage", framed(0x10, labels, gz(images) + b"junk"))
    write("idx_gzip", "bad_extra_data", framed(0x30, labels, images + b"\0" * 64))
    # ---- config (lag train)
    write("config", "valid_run", 'algo = "gd,lag-wk"\ndata = ["a.svm", "b.svm"]\nmax-iters = 500\n'
                                 "alpha = 0.5\nquiet = true\nworkers = 4\n")
    write("config", "valid_numbers", "xi = 1e-3\ndepth = 10\ntarget-gap = 0.0\nthreads = 2\n")
    write("config", "bad_unknown_key", "no-such-option = 1\n")
    write("config", "bad_nested", "[section]\nalgo = \"gd\"\n")
    write("config", "bad_syntax", "algo = \"gd\nmax-iters = = 3\n")
    write("config", "bad_value", "depth = -3\nprecision = \"fp16\"\n")
    write("config", "bad_array", "max-iters = [1, 2]\n")
    write("config", "bad_config_key", 'config = "other.toml"\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
