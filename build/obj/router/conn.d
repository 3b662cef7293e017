build/obj/router/conn.o: src/router/conn.c src/router/conn.h \
 src/common/ev.h src/common/http1.h src/common/log.h src/common/util.h \
 src/router/balance.h src/router/metrics.h src/router/routes.h \
 src/router/upstream.h src/router/worker.h src/router/accesslog.h
src/router/conn.h:
src/common/ev.h:
src/common/http1.h:
src/common/log.h:
src/common/util.h:
src/router/balance.h:
src/router/metrics.h:
src/router/routes.h:
src/router/upstream.h:
src/router/worker.h:
src/router/accesslog.h:
