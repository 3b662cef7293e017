build/obj/rackd/supervisor.o: src/rackd/supervisor.c \
 src/rackd/supervisor.h src/common/log.h src/common/util.h src/lab/lab.h \
 src/rackd/applog.h src/rackd/rack.h src/common/ev.h src/rackd/store.h \
 src/rackd/reconcile.h src/rackd/routers.h
src/rackd/supervisor.h:
src/common/log.h:
src/common/util.h:
src/lab/lab.h:
src/rackd/applog.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/reconcile.h:
src/rackd/routers.h:
