# mk/deb.mk - the Debian package, included by the main Makefile (which
# defines BUILD, DEPS_SH and deps).
#
#   make deb       build/libapache2-mod-redirect307_VERSION_ARCH.deb, built
#                  by dpkg-buildpackage with debian/ (debhelper 13,
#                  dh_apache2), then checked by lintian (errors fail it)
#   make deb-test  builds it, then test/deb/test_deb.py checks its contents
#                  and lintian, installs it on this machine's own apache2,
#                  serves rules, removes and purges it and checks nothing
#                  is left (root only; part of `make test`)
#
# The package is built in a scratch copy of the checkout, $(DEB_DIR)/src:
# dpkg-buildpackage cleans its tree first (`make clean`), writes its
# debian/ output there and its .deb into the parent directory, and none of
# that should touch the working tree, its .libs or anything outside it.
# VERSION is the top entry of debian/changelog, the one place it is set.

DEB_PKGS      = debhelper dpkg-dev lintian
DEB_DIR       = $(BUILD)/deb
DEB_NAME      = libapache2-mod-redirect307
DEB_VERSION   = $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
DEB_ARCH      = $(shell dpkg-architecture -q DEB_HOST_ARCH 2>/dev/null)
DEB_FILE      = $(BUILD)/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb
# What dpkg-buildpackage leaves in debian/ when run in the checkout itself
# (`make clean` removes them; .gitignore lists them).
DEB_TREE_OUTPUTS = debian/.debhelper debian/$(DEB_NAME) debian/tmp \
                debian/files debian/debhelper-build-stamp debian/*.substvars \
                debian/*.debhelper debian/*.debhelper.log
# What the copy leaves out: version control, and the outputs .gitignore
# lists (the copy's clean step would remove them anyway).
DEB_EXCLUDES  = --exclude-vcs --exclude=./$(BUILD) --exclude=./.libs \
                --exclude=./engine/.libs --exclude=./bench/out \
                --exclude='*.o' --exclude='*.lo' --exclude='*.slo' \
                --exclude='*.la' --exclude='*.so' --exclude=__pycache__

.PHONY: deb deb-deps deb-build deb-test

deb-deps: deps
	@$(DEPS_SH) $(DEB_PKGS)

deb: deb-build
	lintian --fail-on error --display-info $(DEB_FILE)
	@echo "built $(DEB_FILE)"

# The package without lintian (the test runs lintian itself).
deb-build: deb-deps
	rm -rf $(DEB_DIR) $(BUILD)/$(DEB_NAME)_*.deb
	mkdir -p $(DEB_DIR)/src
	tar -cf - $(DEB_EXCLUDES) . | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 || { \
	    tail -n 40 ../build.log; echo "dpkg-buildpackage failed; log: $(DEB_DIR)/build.log"; exit 1; }
	mv $(DEB_DIR)/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb $(DEB_FILE)

# The test installs, serves and purges the package on this machine, and
# restores what it changed even when it fails.
deb-test: deb-build
	python3 test/deb/test_deb.py --deb $(CURDIR)/$(DEB_FILE)
