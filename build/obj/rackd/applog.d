build/obj/rackd/applog.o: src/rackd/applog.c src/rackd/applog.h \
 src/common/util.h src/common/log.h src/rackd/rack.h src/common/ev.h \
 src/rackd/store.h
src/rackd/applog.h:
src/common/util.h:
src/common/log.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
