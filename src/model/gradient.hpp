// Single-pass CPU gradient kernels: each row of X is read from memory once (the dot product
// brings it into L1, the update of g reuses it there).
#pragma once

#include <cstddef>

#include "lag/model.hpp"

namespace lag::cpu {

// g += sum over rows [0, rows) of the data term's gradient at theta; returns the data term's
// loss over those rows (accumulated in double). The regulariser is not included. The rows are
// summed in the order 0, q, 2q, 3q, 1, q+1, ... (q = rows/4), then the rest (gradient.cpp): an
// order fixed by `rows` alone.
//   least squares: r = x.theta - y;  loss 1/2 r^2;            g += r x
//   logistic:      z = y x.theta;    loss softplus(-z);       g += -y sigmoid(-z) x
template <class T>
double accumulate_gradient(ModelKind kind, const T* x, const T* y, std::size_t rows,
                           std::size_t dim, const T* theta, T* g);

// Loss only (no gradient), same conventions, summed in the same order.
template <class T>
double accumulate_loss(ModelKind kind, const T* x, const T* y, std::size_t rows, std::size_t dim,
                       const T* theta);

template <class T>
T dot(const T* a, const T* b, std::size_t n);

// ||a - b||^2 accumulated in double.
template <class T>
double distance2(const T* a, const T* b, std::size_t n);

template <class T>
double norm2(const T* a, std::size_t n);

}  // namespace lag::cpu
