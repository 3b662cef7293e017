build/obj/rackd/api_system.o: src/rackd/api_system.c src/common/log.h \
 src/lab/lab.h src/rackd/api.h src/common/json.h src/common/util.h \
 src/rackd/params.h src/rackd/rack.h src/common/ev.h src/rackd/store.h \
 src/rackd/reconcile.h src/rackd/routers.h src/rackd/version.h
src/common/log.h:
src/lab/lab.h:
src/rackd/api.h:
src/common/json.h:
src/common/util.h:
src/rackd/params.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/reconcile.h:
src/rackd/routers.h:
src/rackd/version.h:
