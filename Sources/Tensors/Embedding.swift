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
    for n in 0..<rows {
        (out + n * channels).update(from: weight + Int(tokens[n]) * channels, count: channels)
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
    for n in 0..<rows {
        let t = Int(tokens[n])
        if t == pad { continue }
        let dst = dweight + t * channels, src = dout + n * channels
        for c in 0..<channels { dst[c] += src[c] }
    }
}
