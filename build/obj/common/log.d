build/obj/common/log.o: src/common/log.c src/common/log.h
src/common/log.h:
