build/obj/rackd/manifest.o: src/rackd/manifest.c src/rackd/manifest.h
src/rackd/manifest.h:
