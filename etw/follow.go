package etw

// Following a zip member: a deflated member is inflated on a goroutine of
// its own (see inflating in open.go) and, in file order, the buffer walk
// and the reader follow the inflated bytes as they come, so that
// inflation overlaps reading instead of preceding it. The walk indexes
// buffers as the stream needs them, the decompress-ahead included; in
// time order, and for Buffers, Stats and PendingErrors, it first runs to
// the end, waiting for the end of inflation, so that they see what they
// would have seen had the member been inflated whole at Open.
//
// The index then grows while buffers are held, so that the memory
// charged at a given moment is not what it would have been. The reader
// follows a member only when its budget covers the worst case, in which
// every buffer is as short as a header, and the stream's buffer, the
// scratch and the jobs decompressed ahead are as large as the member and
// the session allow (see followFits): then no LimitError can arise either
// way. Otherwise it waits for the end of inflation at Open, as before.

// followZip enables following; tests turn it off to compare.
var followZip = true

// followFits reports whether the budget covers the worst case of
// following the zip member being inflated (see above). It is called once
// the header buffer is read, with nothing charged yet.
func (r *Reader) followFits() bool {
	if !followZip {
		return false
	}
	claimed := int64(len(r.src.buf))
	buf := min(claimed, MaxBufferSize) // a buffer's bytes in the input
	data := r.followData()
	worst := (claimed/bufferHeaderSize+1)*indexCost + // the index
		buf + max(buf, data) // the scratch and the stream's buffer
	if r.hdr.Compressed() {
		// The jobs: a followed member is decompressed ahead only when
		// its header says it is compressed (see aheadFits).
		worst += aheadPerStream * (buf + data)
	}
	return worst <= r.budget
}

// followData bounds what a compressed buffer of a followed member
// decompresses to: checkCompressed refuses a SavedOffset over
// MaxExpansion times the buffer's bytes or over a plausible session
// BufferSize.
func (r *Reader) followData() int64 {
	buf := min(int64(len(r.src.buf)), MaxBufferSize)
	data := min(MaxBufferSize, MaxExpansion*buf+expansionSlack+bufferHeaderSize)
	if hs := int64(r.hdr.BufferSize); hs >= bufferHeaderSize {
		data = min(data, hs)
	}
	return data
}

// sizeAtLeast returns the smaller of n and the input's size. While a
// followed zip member is being inflated, it waits until n bytes are
// inflated or inflation has ended.
func (r *Reader) sizeAtLeast(n int64) int64 {
	if r.size < 0 {
		return r.src.upTo(n)
	}
	return min(n, r.size)
}

// endFollow, at the end of the walk over a zip member inflated in memory,
// waits for the end of inflation and queues the damage it found after the
// walk's own.
func (r *Reader) endFollow() {
	if r.src == nil {
		return
	}
	size, damage := r.src.wait()
	r.size = size
	if damage != nil {
		r.tailErrs = append(r.tailErrs, damage)
	}
}

// follow extends the file-order stream s to n buffers, walking on as
// needed, or to every buffer when the walk ends first.
func (r *Reader) follow(s *stream, n int) {
	for len(s.bufs) < n {
		if len(s.bufs) < len(r.bufs) {
			s.bufs = append(s.bufs, len(s.bufs))
			continue
		}
		if !r.walkNext() {
			return
		}
	}
}
