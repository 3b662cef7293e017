build/obj/rackd/api_apps.o: src/rackd/api_apps.c src/common/log.h \
 src/rackd/api.h src/common/json.h src/common/util.h src/rackd/applog.h \
 src/rackd/dockerfile.h src/rackd/manifest.h src/rackd/rack.h \
 src/common/ev.h src/rackd/store.h src/rackd/reconcile.h \
 src/rackd/routers.h src/rackd/unpack.h
src/common/log.h:
src/rackd/api.h:
src/common/json.h:
src/common/util.h:
src/rackd/applog.h:
src/rackd/dockerfile.h:
src/rackd/manifest.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/reconcile.h:
src/rackd/routers.h:
src/rackd/unpack.h:
