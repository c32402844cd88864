package etw

import (
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Decompress-ahead: while the reader frames the records of a compressed
// buffer, the next buffers it will need are decompressed on other
// goroutines (the other core), so that decompression and framing overlap.
// Each job goes to the stream whose last queued or loaded buffer was
// flushed first (in file order, the one stream). The jobs go to a small
// set of workers (one fewer than GOMAXPROCS, at least one), which end when
// the reader has read every stream, when it is closed, or when it is
// collected unread. When the reader reaches a buffer whose job no worker
// has taken yet, it decompresses it itself; when a worker is on it, the
// reader decompresses another job while it waits, so that both cores stay
// busy. A job reads its buffer's compressed bytes itself, on whichever
// goroutine runs it, so that the reader's goroutine spends no time in
// those reads (io.ReaderAt allows parallel calls); [Reader.Close] waits
// for the jobs being run, so that no read outlives it. Every outcome (an
// I/O error, damage found while decompressing) is reported when the
// stream reaches that buffer, exactly as if it had been read and
// decompressed then.
//
// The buffers of the jobs are counted in the reader's memory budget. The
// reader decompresses ahead only when the budget covers, besides every
// stream's own largest buffer, aheadJobs more buffers and their
// compressed bytes: then no buffer can hit the budget, and an input that
// could hits it exactly as without decompress-ahead. The jobs' buffers are
// made at the largest sizes, so that they are reused, never made again.

// The reader decompresses up to aheadJobs buffers ahead in all, and up to
// aheadPerStream of one stream. Fewer leave the worker idle while the
// reader frames a run of short buffers; more cost memory (fresh pages are
// dear) and gained nothing on two cores. On net.4.5.2.x64.etl, 31
// interleaved runs of a reader loop: 3, 5 and 8 of a stream took 24.6,
// 23.0 and 24.8 ms in file order (one stream), 26.6, 26.1 and 26.4 in time
// order (8 streams); in file order they took 372, 404 and 494 page
// faults.
const (
	aheadJobs      = 8
	aheadPerStream = 5
)

// aheadPool runs the jobs of one Reader on up to max worker goroutines.
// Workers wait for work between jobs and end when the pool stops: when the
// reader has read every stream, when it is closed, or when it is dropped
// unread (a cleanup stops the pool then).
type aheadPool struct {
	mu      sync.Mutex
	queue   []*aheadJob // jobs no one has taken
	workers int         // workers running
	idle    int         // workers waiting on wake
	wake    chan struct{}
	stopped bool
	max     int
	format  Compression
	ra      io.ReaderAt    // where the jobs read their compressed bytes
	running sync.WaitGroup // the workers
}

func newAheadPool(format Compression, ra io.ReaderAt) *aheadPool {
	n := max(1, runtime.GOMAXPROCS(0)-1)
	return &aheadPool{max: n, wake: make(chan struct{}, n), format: format, ra: ra}
}

// submit queues j and wakes or starts a worker for it.
func (p *aheadPool) submit(j *aheadJob) {
	p.mu.Lock()
	p.queue = append(p.queue, j)
	start := false
	switch {
	case p.stopped:
		// The reader runs the job itself when it reaches it.
	case p.idle > 0 && len(p.queue) >= 2:
		// An idle worker is woken for two jobs, not one: a wake-up
		// costs two context switches, and jobs are queued ahead of
		// need, so the first can wait for the second (or for the
		// reader, which runs it if it gets there first).
		p.idle--
		p.wake <- struct{}{}
	case p.workers < p.max:
		p.workers++
		start = true
	}
	p.mu.Unlock()
	if start {
		p.running.Add(1)
		go p.work()
	}
}

// work runs queued jobs, waiting for more between them, until the pool
// stops.
func (p *aheadPool) work() {
	defer p.running.Done()
	for {
		p.mu.Lock()
		if p.stopped {
			p.workers--
			p.mu.Unlock()
			return
		}
		if len(p.queue) == 0 {
			p.idle++
			p.mu.Unlock()
			<-p.wake
			continue
		}
		j := p.pop(-1)
		p.mu.Unlock()
		j.run(p.format, p.ra)
	}
}

// stop makes the workers end once their current job is done. Jobs still
// queued are left to the reader, which runs them when it reaches them.
func (p *aheadPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.wake)
	}
}

// take removes j from the queue and returns it when no worker has taken
// it; otherwise it removes and returns the queued job of the earliest
// buffer, for the reader to run while a worker finishes j, or nil when
// none is queued.
func (p *aheadPool) take(j *aheadJob) *aheadJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	return p.pop(slices.Index(p.queue, j))
}

// pop removes and returns queued job i or, when i is negative, the job of
// the earliest buffer in the file: the reader needs buffers about in file
// order (in time order too, as buffers are flushed in time), and the queue
// holds the next buffer of every processor, not in the order needed.
// The caller holds p.mu.
func (p *aheadPool) pop(i int) *aheadJob {
	if i < 0 {
		i = 0
		for k, j := range p.queue {
			if j.bi.Index < p.queue[i].bi.Index {
				i = k
			}
		}
	}
	got := p.queue[i]
	p.queue = append(p.queue[:i], p.queue[i+1:]...)
	return got
}

// stopAhead stops the reader's workers, if it has any, and with wait
// returns once they have ended (each finishes the job it is on).
func (r *Reader) stopAhead(wait bool) {
	if r.pool != nil {
		r.pool.stop()
		if wait {
			r.pool.running.Wait()
		}
	}
}

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

// run reads the job's compressed bytes from ra and decompresses them.
func (j *aheadJob) run(format Compression, ra io.ReaderAt) {
	if j.ioErr = readRaw(ra, j.raw, &j.bi); j.ioErr == nil {
		j.end, j.trunc = inflate(format, &j.bi, j.data, j.raw)
	}
	j.done <- struct{}{}
}

// aheadFits reports whether the memory budget covers decompress-ahead in
// the worst case the buffer headers allow, and whether there is anything
// to decompress. A stream with compressed buffers may end up holding a
// job's buffer (they trade), so it is counted at the largest size.
func (r *Reader) aheadFits() bool {
	r.depth = aheadPerStream
	if !r.walked {
		// Following a zip member in file order (see follow.go): the
		// budget covers the worst case.
		r.maxData = int(r.followData())
		return r.hdr.Compressed()
	}
	var maxData, maxRaw int64
	for _, s := range r.streams {
		for _, i := range s.bufs {
			if b := &r.bufs[i]; b.Compressed() {
				maxRaw = max(maxRaw, int64(b.Avail))
				maxData = max(maxData, min(int64(b.SavedOffset), MaxExpansion*int64(b.Avail)+expansionSlack))
			}
		}
	}
	if maxRaw == 0 {
		return false
	}
	need := r.mem + aheadJobs*(maxData+maxRaw) + maxRaw // the jobs and the scratch
	for _, s := range r.streams {
		var data int64
		comp := false
		for _, i := range s.bufs {
			b := &r.bufs[i]
			data = max(data, int64(b.Avail))
			comp = comp || b.Compressed()
		}
		if comp {
			data = max(data, maxData)
		}
		need += data
		if need > r.budget {
			return false
		}
	}
	r.maxData, r.maxRaw = int(maxData), int(maxRaw)
	return true
}

// aheadStream returns the stream whose next buffer to decompress ahead
// the reader will need first, with s.queued at that buffer, or nil: a
// stream that has none yet (each is needed before the first event, and
// is decompressed ahead so that both cores prime the streams); then, in
// time order, the stream whose last buffer queued or loaded was flushed
// first: its next records follow that flush.
func (r *Reader) aheadStream() *stream {
	var best *stream
	var key int64
	for _, s := range r.streams {
		if r.order == FileOrder {
			r.follow(s, max(s.queued, s.next)+1)
		}
		q := max(s.queued, s.next)
		if s.done || q >= len(s.bufs) || len(s.ahead) >= r.depth {
			continue
		}
		// A stream's first buffer is needed before any other buffer.
		k := int64(math.MinInt64)
		if q > 0 {
			k = r.bufs[s.bufs[q-1]].Timestamp
		}
		if best == nil || k < key {
			best, key = s, k
		}
	}
	if best != nil {
		best.queued = max(best.queued, best.next)
	}
	return best
}

// queueAhead starts the decompression of the compressed buffers the
// reader will need next, up to aheadJobs in all and r.depth per stream.
func (r *Reader) queueAhead(*stream) {
	for r.queuedJobs < aheadJobs {
		s := r.aheadStream()
		if s == nil {
			return
		}
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
		if n := len(r.spare); n > 0 {
			j = r.spare[n-1]
			r.spare = r.spare[:n-1]
		} else {
			j = &aheadJob{done: make(chan struct{}, 1)}
		}
		// The job's buffers are made at the largest sizes at once, which
		// aheadFits counted, so that they are not made again for a
		// larger buffer later.
		avail := int(bi.Avail)
		if r.grow(&j.raw, max(avail, r.maxRaw), bi) != nil || r.grow(&j.data, max(want, r.maxData), bi) != nil {
			// aheadFits makes this unreachable; read in step instead.
			r.spare = append(r.spare, j)
			return
		}
		s.queued++
		r.queuedJobs++
		j.bi = *bi
		j.raw, j.data = j.raw[:avail], j.data[:want]
		s.ahead = append(s.ahead, j)
		if r.pool == nil {
			r.pool = newAheadPool(r.format(), r.ra)
			// A Reader dropped before its end stops its workers when
			// it is collected: they hold the pool, not the Reader.
			runtime.AddCleanup(r, (*aheadPool).stop, r.pool)
		}
		r.pool.submit(j)
	}
}

// wait returns once j is done. A job no worker has taken yet is run
// here; while a worker runs j, the reader runs later jobs.
func (r *Reader) wait(j *aheadJob) {
	for {
		select {
		case <-j.done:
			return
		default:
		}
		o := r.pool.take(j)
		if o == nil {
			<-j.done
			return
		}
		o.run(r.pool.format, r.pool.ra)
		if o == j {
			<-j.done
			return
		}
	}
}

// takeAhead gives s the buffer decompressed ahead for s.bi, as load would
// have read it.
func (r *Reader) takeAhead(s *stream, bi *BufferInfo) error {
	j := s.ahead[0]
	s.ahead = append(s.ahead[:0], s.ahead[1:]...)
	r.wait(j)
	r.queuedJobs--
	r.spare = append(r.spare, j)
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

// releaseAhead drops the jobs' buffers and stops the workers once every
// stream is finished.
func (r *Reader) releaseAhead(*stream) {
	for _, o := range r.streams {
		if !o.done {
			return
		}
	}
	for _, j := range r.spare {
		r.mem -= int64(cap(j.raw) + cap(j.data))
	}
	r.spare = nil
	r.stopAhead(false)
}
