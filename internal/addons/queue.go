package addons

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// NewQueue is an add-on controller's queue of object keys.
func NewQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
}

// Enqueue is an informer handler that adds the object's namespace/name.
func Enqueue(q workqueue.TypedRateLimitingInterface[string]) cache.ResourceEventHandlerFuncs {
	add := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			q.Add(k)
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }, DeleteFunc: add}
}

// Work takes keys from q and syncs them until ctx ends: a failed sync is
// retried with backoff, and a sync asking for it (retry > 0) is looked at
// again after that long.
func Work(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], log *slog.Logger, sync func(ctx context.Context, key string) (retry time.Duration, err error)) {
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		retry, err := sync(ctx, key)
		switch {
		case err != nil:
			log.Warn("sync failed; retrying", "key", key, "err", err)
			q.AddRateLimited(key)
		case retry > 0:
			q.Forget(key)
			q.AddAfter(key, retry)
		default:
			q.Forget(key)
		}
		q.Done(key)
	}
}
