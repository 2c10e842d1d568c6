package objectstore

import "context"

// Syncer is implemented by stores that can defer the durability of
// writes made under castore.DeferSync (packstore); Sync makes every
// write made before it durable. A store without it is durable per write
// and ignores the request.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Sync makes s's deferred writes durable: s's Sync, or nothing for a
// store that defers none.
func Sync(ctx context.Context, s Store) error {
	if y, ok := s.(Syncer); ok {
		return y.Sync(ctx)
	}
	return nil
}

// Sync checks the context and syncs the driver.
func (p *Portable) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return Sync(ctx, p.driver)
}

func (s *Instrumented) Sync(ctx context.Context) error {
	ctx, done := s.start(ctx, "sync", "")
	err := Sync(ctx, s.Store)
	done(err)
	return err
}

// Sync is not bounded by the timeout: it is one local call, as long as
// the disk needs.
func (d *Deadline) Sync(ctx context.Context) error { return Sync(ctx, d.Store) }
