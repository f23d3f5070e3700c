// Softmax regression on the CPU in one pass over X (theta = W, K x d, row-major): each group of
// rows is read from memory once, for its logits, and its gradient contributions are added while
// it is still in L1 (docs/benchmarks.md §1). Our own loops instead of two BLAS GEMMs per block:
// with K = 10 a GEMM is too thin for BLAS to reach its peak, and the order of every sum is ours.
#pragma once

#include <cstddef>

namespace lag::cpu {

// Row-wise softmax of z (rows x k) in place, returning sum_i [logsumexp(z_i) - z_{i,y_i}] and
// counting rows whose largest logit is the label (when `correct` is given). With
// `minus_onehot`, z becomes p - onehot(y), the gradient of the loss with respect to the logits.
template <class T>
double softmax_rows(T* z, const T* y, std::size_t rows, std::size_t k, bool minus_onehot,
                    std::size_t* correct);

// g += the gradient of sum_i [logsumexp(W x_i) - (W x_i)_{y_i}] over the rows; returns that loss.
// `z` is scratch for kSoftmaxGroup * k values. Order: groups of kSoftmaxGroup consecutive rows,
// then the rows left over one at a time; within a group each logit is one dot product, and
// g[c][j] gets the group's rows in row order. Deterministic, and fixed by `rows` alone.
template <class T>
double softmax_gradient(const T* x, const T* y, std::size_t rows, std::size_t d, std::size_t k,
                        const T* w, T* g, T* z);

// The loss alone, and the rows predicted right added to `correct`.
template <class T>
double softmax_evaluate(const T* x, const T* y, std::size_t rows, std::size_t d, std::size_t k,
                        const T* w, T* z, std::size_t& correct);

constexpr std::size_t kSoftmaxGroup = 4;

}  // namespace lag::cpu
