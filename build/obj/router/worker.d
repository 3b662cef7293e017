build/obj/router/worker.o: src/router/worker.c src/router/worker.h \
 src/common/http1.h src/router/accesslog.h src/common/util.h \
 src/router/metrics.h src/router/upstream.h src/common/ev.h \
 src/common/log.h src/router/conn.h src/router/listener.h \
 src/router/routes.h
src/router/worker.h:
src/common/http1.h:
src/router/accesslog.h:
src/common/util.h:
src/router/metrics.h:
src/router/upstream.h:
src/common/ev.h:
src/common/log.h:
src/router/conn.h:
src/router/listener.h:
src/router/routes.h:
