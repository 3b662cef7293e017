build/obj/rackd/routers.o: src/rackd/routers.c src/rackd/routers.h \
 src/common/log.h src/common/util.h src/rackd/manifest.h src/rackd/rack.h \
 src/common/ev.h src/rackd/store.h src/rackd/supervisor.h
src/rackd/routers.h:
src/common/log.h:
src/common/util.h:
src/rackd/manifest.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/supervisor.h:
