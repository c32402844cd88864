package etw

// Decompress-ahead: while the reader frames the records of a compressed
// buffer, the next buffers of the same stream are decompressed on other
// goroutines (the other core), so that decompression and framing overlap.
// The compressed bytes are read on the reader's goroutine, in the order the
// reader would have read them, and every outcome (an I/O error, damage
// found while decompressing) is reported when the stream reaches that
// buffer, exactly as if it had been decompressed then.
//
// The buffers of the jobs are counted in the reader's memory budget. The
// reader decompresses ahead only when the budget covers, besides every
// stream's own largest buffer, aheadDepth more buffers per stream and
// their compressed bytes: then no buffer can hit the budget, and an input
// that could hits it exactly as without decompress-ahead.

// aheadDepth is the number of buffers decompressed ahead per stream.
const aheadDepth = 2

// aheadJob is one buffer decompressed ahead.
type aheadJob struct {
	bi    BufferInfo
	raw   []byte // the buffer's bytes in the file
	data  []byte // the decompressed buffer, SavedOffset bytes
	ioErr error  // reading raw failed: reported when the buffer is reached
	end   int    // end of the records to deliver
	trunc error  // damage to report after them
	done  chan struct{}
}

func (j *aheadJob) run(format Compression) {
	j.end, j.trunc = inflate(format, &j.bi, j.data, j.raw)
	j.done <- struct{}{}
}

// aheadFits reports whether the memory budget covers decompress-ahead in
// the worst case the buffer headers allow, and whether there is anything
// to decompress.
func (r *Reader) aheadFits() bool {
	need := r.mem
	var scratch int64
	some := false
	for _, s := range r.streams {
		var data, raw int64
		for _, i := range s.bufs {
			b := &r.bufs[i]
			size := int64(b.Avail)
			if b.Compressed() {
				some = true
				raw = max(raw, int64(b.Avail))
				size = min(int64(b.SavedOffset), MaxExpansion*int64(b.Avail)+expansionSlack)
			}
			data = max(data, size)
		}
		scratch = max(scratch, raw)
		need += data
		if raw > 0 {
			need += aheadDepth * (data + raw)
		}
		if need > r.budget {
			return false
		}
	}
	return some && need+scratch <= r.budget
}

// queueAhead starts the decompression of the next compressed buffers of s,
// up to aheadDepth of them.
func (r *Reader) queueAhead(s *stream) {
	s.queued = max(s.queued, s.next)
	for len(s.ahead) < aheadDepth && s.queued < len(s.bufs) {
		bi := &r.bufs[s.bufs[s.queued]]
		if !bi.Compressed() {
			s.queued++
			continue
		}
		want, err := r.checkCompressed(bi)
		if err != nil {
			// Reported when the stream reaches the buffer.
			s.queued++
			continue
		}
		var j *aheadJob
		if n := len(s.spare); n > 0 {
			j = s.spare[n-1]
			s.spare = s.spare[:n-1]
		} else {
			j = &aheadJob{done: make(chan struct{}, 1)}
		}
		avail := int(bi.Avail)
		if r.grow(&j.raw, avail, bi) != nil || r.grow(&j.data, want, bi) != nil {
			// aheadFits makes this unreachable; read in step instead.
			s.spare = append(s.spare, j)
			return
		}
		s.queued++
		j.bi = *bi
		j.raw, j.data = j.raw[:avail], j.data[:want]
		j.ioErr = r.readRaw(j.raw, bi)
		s.ahead = append(s.ahead, j)
		if j.ioErr != nil {
			j.done <- struct{}{}
			continue
		}
		go j.run(r.format())
	}
}

// takeAhead gives s the buffer decompressed ahead for s.bi, as load would
// have read it.
func (r *Reader) takeAhead(s *stream, bi *BufferInfo) error {
	j := s.ahead[0]
	s.ahead = append(s.ahead[:0], s.ahead[1:]...)
	<-j.done
	s.spare = append(s.spare, j)
	if j.ioErr != nil {
		return j.ioErr
	}
	r.stats.Bytes += int64(bi.Avail)
	// Both buffers are counted in r.mem: trading them leaves it as is.
	if s.data == nil {
		r.inUse++
	}
	s.data, j.data = j.data, s.data
	s.end, s.trunc = j.end, j.trunc
	return nil
}

// releaseAhead drops the buffers of the spare jobs of a finished stream.
func (r *Reader) releaseAhead(s *stream) {
	for _, j := range s.spare {
		r.mem -= int64(cap(j.raw) + cap(j.data))
	}
	s.spare = nil
}
