package daemon

import (
	"fmt"
	"strings"

	"github.com/myrrorfs/myrrorfs/engine"
)

// OpLog asks for the pair's history (`myrrorfs log`): Request.N entries
// (all when 0), newest first, as text or, with Request.JSON, JSON lines
// (see engine.WriteHistory); entries of the journal that cannot be read
// are skipped and named in Response.Warnings.
const OpLog = "log"

// Historian is a Mount that can read its pair's history; *Daemon is one.
type Historian interface {
	History(n int) ([]engine.HistoryEntry, []string, error)
}

// History returns the newest n entries of the pair's history (see
// engine.Pair.History). It does not wait for a commit in progress.
func (d *Daemon) History(n int) ([]engine.HistoryEntry, []string, error) {
	return d.pair.History(n)
}

// HandleLog answers a log request.
func HandleLog(m Mount, req Request) Response {
	h, ok := m.(Historian)
	if !ok {
		return errorResponse(fmt.Errorf("this process keeps no history to show"))
	}
	entries, warns, err := h.History(req.N)
	if err != nil {
		return errorResponse(err)
	}
	var b strings.Builder
	if err := engine.WriteHistory(&b, entries, req.JSON); err != nil {
		return errorResponse(err)
	}
	return Response{V: ProtocolVersion, Text: b.String(), Warnings: warns}
}
