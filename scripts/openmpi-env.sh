# Sourced: makes a relocated copy of Open MPI (gpu-carry/openmpi, written by
# scripts/prepare-gpu-carry.sh) find its own programs, plugins, help texts and parameters
# instead of the paths it was built with, on a machine without Open MPI:
#   . scripts/openmpi-env.sh gpu-carry/openmpi
# mpirun passes these variables on to the ranks it starts.
ompi_dir=$(cd "${1:?usage: . scripts/openmpi-env.sh OPENMPI_DIR}" && pwd)
export OPAL_PREFIX="$ompi_dir" OPAL_EXEC_PREFIX="$ompi_dir" OPAL_BINDIR="$ompi_dir/bin" \
  OPAL_LIBDIR="$ompi_dir/lib" OPAL_PKGLIBDIR="$ompi_dir/lib/openmpi3" \
  OPAL_DATAROOTDIR="$ompi_dir/share" OPAL_DATADIR="$ompi_dir/share" \
  OPAL_PKGDATADIR="$ompi_dir/share/openmpi" OPAL_SYSCONFDIR="$ompi_dir/etc"
export PMIX_PREFIX="$ompi_dir/pmix" PMIX_LIBDIR="$ompi_dir/pmix/lib" \
  PMIX_PKGLIBDIR="$ompi_dir/pmix/lib/pmix" PMIX_DATADIR="$ompi_dir/pmix/share" \
  PMIX_PKGDATADIR="$ompi_dir/pmix/share/pmix"
# Named outright as well: the default plugin path and parameter file are fixed at build time.
export OMPI_MCA_mca_base_component_path="$ompi_dir/lib/openmpi3"
export OMPI_MCA_mca_base_param_files="$ompi_dir/etc/openmpi-mca-params.conf"
export PATH="$ompi_dir/bin:$PATH"
export LD_LIBRARY_PATH="$ompi_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
