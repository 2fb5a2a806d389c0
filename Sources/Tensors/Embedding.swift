// Token embedding lookup and its scatter-add backward.
//
// Legend: N = rows (B*T tokens), C = channels, V = vocabulary size.

// MARK: - Embedding

/// `out[n, :] = weight[tokens[n], :]`. Overwrites `out`.
/// - Parameters:
///   - out: `[N, C]`, written.
///   - tokens: `[N]` token ids, each in `0..<V` (the caller validates user input).
///   - weight: `[V, C]`.
/// - Source: PyTorch `nn.Embedding`.
public func embeddingForward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, weight: UnsafePointer<Float>,
                             rows: Int, channels: Int) {
    parallelRanges(rows, minPerThread: max(1, elementwiseMinPerThread / max(1, channels))) { range in
        for n in range { (out + n * channels).update(from: weight + Int(tokens[n]) * channels, count: channels) }
    }
}

/// Backward of `embeddingForward`: `dweight[tokens[n], :] += dout[n, :]`, skipping `paddingIndex`
/// (as `nn.Embedding(padding_idx:)` does: that row never receives a gradient).
/// - Parameters:
///   - dweight: `[V, C]`, accumulated.
///   - dout: `[N, C]`; tokens: `[N]`.
///   - paddingIndex: token id whose row gets no gradient (Hugging Face passes `pad_token_id`), or nil.
public func embeddingBackward(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
                              rows: Int, channels: Int, paddingIndex: Int?) {
    let pad = paddingIndex ?? -1
    // Threads own channel ranges (a token may repeat, so rows cannot be split); each element still adds
    // the rows in order 0..<N, so the result is the same at any thread count.
    let width = 64
    let blocks = (channels + width - 1) / width
    parallelRanges(blocks, minPerThread: max(1, elementwiseMinPerThread / max(1, rows * width))) { range in
        let c0 = range.lowerBound * width, c1 = min(channels, range.upperBound * width)
        for n in 0..<rows {
            let t = Int(tokens[n])
            if t == pad { continue }
            let dst = dweight + t * channels, src = dout + n * channels
            for c in c0..<c1 { dst[c] += src[c] }
        }
    }
}
