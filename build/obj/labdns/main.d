build/obj/labdns/main.o: src/labdns/main.c src/common/ev.h \
 src/common/log.h src/common/net.h src/common/util.h src/labdns/dnsmsg.h \
 src/labdns/hosts.h
src/common/ev.h:
src/common/log.h:
src/common/net.h:
src/common/util.h:
src/labdns/dnsmsg.h:
src/labdns/hosts.h:
