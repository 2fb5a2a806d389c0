// A Float32 tensor: contiguous, row-major, 64-byte aligned storage with a shape. Views share storage.

import Foundation

// MARK: - Tensor

/// A contiguous, row-major Float32 tensor owning (or viewing) 64-byte aligned storage.
///
/// Ownership: a tensor created with `init(shape:)` owns its buffer and frees it on deinit; a view made
/// with `view(offset:shape:)` points into its parent's buffer and keeps the parent alive. No copy is made
/// by a view, so writes through a view are visible in the parent.
///
/// Threading: a tensor is not synchronised. Reading from several threads is safe; writing while another
/// thread reads or writes the same elements is a data race (the caller partitions the work).
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first (e.g. `[B*T, C]`).
    public let shape: [Int]
    /// Number of elements (product of `shape`; 1 for a scalar `[]`).
    public let count: Int
    /// First element. Valid for `count` elements while this tensor is alive.
    public let data: UnsafeMutablePointer<Float>
    /// The tensor whose storage this view points into (nil when this tensor owns its storage).
    public let base: Tensor?

    /// Allocates a zero-filled tensor.
    /// - Parameter shape: dimensions, each >= 0.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative: \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        var raw: UnsafeMutableRawPointer? = nil
        let bytes = max(self.count, 1) * MemoryLayout<Float>.stride
        let rc = posix_memalign(&raw, 64, bytes)
        precondition(rc == 0 && raw != nil, "Tensor allocation of \(bytes) bytes failed")
        self.data = raw!.bindMemory(to: Float.self, capacity: max(self.count, 1))
        self.data.initialize(repeating: 0, count: max(self.count, 1))
        self.base = nil
    }

    /// Allocates a tensor holding a copy of `values`.
    /// - Parameters:
    ///   - shape: dimensions; their product must equal `values.count`.
    ///   - values: elements in row-major order.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { data.update(from: s, count: count) }
        }
    }

    private init(viewOf parent: Tensor, offset: Int, shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = parent.data + offset
        self.base = parent.base ?? parent
    }

    deinit {
        if base == nil { free(data) }
    }

    /// A view of `shape.product` elements starting at element `offset`; shares storage (no copy).
    /// - Parameters:
    ///   - offset: first element, in elements from this tensor's start.
    ///   - shape: the view's dimensions; `offset + product(shape) <= count`.
    public func view(offset: Int = 0, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= count, "Tensor view [\(offset), +\(n)) outside \(count) elements")
        return Tensor(viewOf: self, offset: offset, shape: shape)
    }

    /// The same elements with another shape (same count); shares storage.
    public func reshaped(_ shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == count, "Tensor reshape \(self.shape) -> \(shape) changes the count")
        return Tensor(viewOf: self, offset: 0, shape: shape)
    }

    /// The elements as an array (a copy).
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: data, count: count))
    }

    /// Overwrites every element with `values` (side effect: mutates storage).
    public func copy(from values: [Float]) {
        precondition(values.count == count, "Tensor copy: \(values.count) values for \(count) elements")
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { data.update(from: s, count: count) }
        }
    }

    /// Overwrites every element with the elements of `other` (same count).
    public func copy(from other: Tensor) {
        precondition(other.count == count, "Tensor copy: \(other.count) elements into \(count)")
        data.update(from: other.data, count: count)
    }

    /// Sets every element to zero (side effect: mutates storage).
    /// Large tensors are cleared in contiguous ranges over the compute threads (`parallelRanges`).
    public func zero() {
        let base = data
        parallelRanges(count, minPerThread: 1 << 18) { r in
            memset(base + r.lowerBound, 0, r.count * MemoryLayout<Float>.stride)
        }
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) {
        data.update(repeating: value, count: count)
    }

    /// Element access by flat row-major index (no bounds check in `-Ounchecked` builds).
    @inlinable public subscript(_ i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// A deep copy with its own storage.
    public func clone() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }
}
