build/obj/rackd/reconcile.o: src/rackd/reconcile.c src/rackd/reconcile.h \
 src/common/log.h src/common/net.h src/common/util.h src/lab/lab.h \
 src/rackd/applog.h src/rackd/dockerfile.h src/rackd/health.h \
 src/rackd/manifest.h src/rackd/rack.h src/common/ev.h src/rackd/store.h \
 src/rackd/routers.h src/rackd/supervisor.h
src/rackd/reconcile.h:
src/common/log.h:
src/common/net.h:
src/common/util.h:
src/lab/lab.h:
src/rackd/applog.h:
src/rackd/dockerfile.h:
src/rackd/health.h:
src/rackd/manifest.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/routers.h:
src/rackd/supervisor.h:
