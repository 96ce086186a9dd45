# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_wharf_global_optspecs
    string join \n image-root= json q/quiet no-legend state-dir= h/help V/version
end

function __fish_wharf_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_wharf_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_wharf_using_subcommand
    set -l cmd (__fish_wharf_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c wharf -n "__fish_wharf_needs_command" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_needs_command" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_needs_command" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_needs_command" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_needs_command" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_needs_command" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_needs_command" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "list-images" -d 'List images (name, type, read-only, usage, created, modified)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "images" -d 'List images (name, type, read-only, usage, created, modified)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "image-status" -d 'Show details of images, including the OS inside'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "show-image" -d 'Show image properties as key=value lines'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "clone" -d 'Clone an image (btrfs snapshot when possible, else a reflink or full copy)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "rename" -d 'Rename an image (its sidecar files follow)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "remove" -d 'Remove images and their sidecar files'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "read-only" -d 'Mark an image read-only (default) or writable'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "set-limit" -d 'Limit the disk space of an image (or the whole pool); btrfs subvolumes only'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "import-fs" -d 'Make an image from a directory tree (snapshot or reflink where possible, else a copy)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "import-tar" -d 'Import a tar archive (gzip, xz, bzip2, zstd or plain, sniffed from its bytes) as an image'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "import-oci" -d 'Import a container image from an OCI image layout (directory or tar) or a `docker save` archive: layers applied with whiteouts, settings from the image config in NAME.nspawn'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "pull-oci" -d 'Pull a container image from a registry and import it as a machine (blobs are cached, so images sharing layers download them once)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "push" -d 'Push a machine to a registry as a one-layer image (what export-oci writes)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "export-oci" -d 'Export a machine as a one-layer OCI image into a layout directory or an OCI archive (PATH ending in .tar); the config comes from NAME.oci-config or NAME.nspawn'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "import-docker" -d 'Import the flat tar of `docker export` / `podman export` as a machine'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "export-tar" -d 'Export a directory or subvolume image as a tar archive'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "pull-tar" -d 'Download a tar archive over HTTP(S), verify it and import it as an image'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "import-raw" -d 'Import a raw disk image (plain, gzip, xz, bzip2, zstd; qcow2 is converted) as NAME.raw'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "pull-raw" -d 'Download a raw or qcow2 disk image over HTTP(S), verify it and import it'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "export-raw" -d 'Export a raw image (optionally compressed)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "convert" -d 'Convert a disk image file between qcow2 and raw'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "clean" -d 'Remove hidden images and leftovers of interrupted operations (--all: every image)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "run" -d 'Run a command inside an image in new namespaces (systemd-nspawn style)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "boot" -d 'Boot an image\'s init system (= run -b -M NAME); extra arguments go to the init'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "start" -d 'Boot an image in the background under a wharf supervisor (run options may follow NAME)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "list" -d 'List running machines (name, leader PID, OS, since)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "status" -d 'Show a running machine: leader, cgroup, processes, uptime, last console lines'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "poweroff" -d 'Power machines off (SIGRTMIN+3 to PID 1) and wait for them to end'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "reboot" -d 'Reboot machines (SIGINT to PID 1, systemd\'s ctrl-alt-del)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "terminate" -d 'Kill machines at once (every process of their cgroup)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "kill" -d 'Send a signal to machines\' processes'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "shell" -d 'Run a command (default: a login shell) inside a running machine'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "login" -d 'Log in to a running machine (its login(1) on a new pty; needs a terminal)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "copy-to" -d 'Copy a host file or directory tree into a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "copy-from" -d 'Copy a file or directory tree out of a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "completions" -d 'Print a shell completion script for wharf to standard output'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "bind" -d 'Mount a host path into a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "enable" -d 'Boot machines at startup with the host\'s systemd (installs wharf@.service)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "disable" -d 'Stop booting machines at startup (removes their wharf@NAME.service links)'
complete -c wharf -n "__fish_wharf_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -s a -l all -d 'Include hidden images (names starting with ".")'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand list-images" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand images" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand images" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand images" -s a -l all -d 'Include hidden images (names starting with ".")'
complete -c wharf -n "__fish_wharf_using_subcommand images" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand images" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand images" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand images" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand images" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand image-status" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -s p -l property -d 'Show only these properties' -r
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -l value -d 'Print only the values'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand show-image" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand clone" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand clone" -l read-only -d 'Make the clone read-only'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand clone" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand rename" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand rename" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand rename" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand rename" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand rename" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand rename" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand rename" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand remove" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand remove" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand remove" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand remove" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand remove" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand remove" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand remove" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand read-only" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand set-limit" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand import-fs" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l size-max -d 'Refuse archives that unpack to more than this (e.g. 20G)' -r
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand import-tar" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l ref -d 'The tag to import when the layout holds several images' -r
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l platform -d 'os/arch[/variant] to import from a multi-platform image (default: this host\'s)' -r
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l layered -d 'Keep each layer as a read-only btrfs subvolume shared by the images built on it'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand import-oci" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l platform -d 'os/arch[/variant] to pull from a multi-platform image (default: this host\'s)' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l cache-dir -d 'The blob cache, an OCI image layout [default: /var/cache/wharf/oci]' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l layered -d 'Keep each layer as a read-only btrfs subvolume shared by the images built on it'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l insecure -d 'Allow plain http and unverified TLS certificates (loopback registries need neither)'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand pull-oci" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand push" -l format -d 'Layer compression: gzip or zstd' -r
complete -c wharf -n "__fish_wharf_using_subcommand push" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand push" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand push" -l insecure -d 'Allow plain http and unverified TLS certificates (loopback registries need neither)'
complete -c wharf -n "__fish_wharf_using_subcommand push" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand push" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand push" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand push" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand push" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l tag -d 'The image\'s tag in the layout (default: latest)' -r
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l format -d 'Layer compression: gzip, zstd or uncompressed' -r
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand export-oci" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand import-docker" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -l format -d 'uncompressed, gzip, xz, bzip2 or zstd (default: from the file suffix)' -r
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand export-tar" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l verify -d 'no, checksum (SHA256SUMS) or signature (SHA256SUMS.gpg, the default)' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l keyring -d 'OpenPGP keyring for --verify=signature (default: /etc/systemd/import-pubring.{pgp,gpg})' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l keep-download -d 'Keep the pristine download as a hidden read-only image and reuse it on the next pull' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l size-max -d 'Refuse archives that unpack to more than this (e.g. 20G)' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand pull-tar" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l allow-backing-file -d 'Allow a qcow2 backing file (resolved only inside the image\'s own directory)'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand import-raw" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l verify -d 'no, checksum (SHA256SUMS) or signature (SHA256SUMS.gpg, the default)' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l keyring -d 'OpenPGP keyring for --verify=signature (default: /etc/systemd/import-pubring.{pgp,gpg})' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l keep-download -d 'Keep the pristine download as a hidden read-only image and reuse it on the next pull' -r
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l force -d 'Replace an existing image of that name'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l read-only -d 'Make the image read-only'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand pull-raw" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -l format -d 'uncompressed, gzip, xz, bzip2 or zstd (default: from the file suffix)' -r
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand export-raw" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l format -d 'raw or qcow2 (default: from OUTPUT\'s suffix, else raw)' -r
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l compress -d 'Compress qcow2 clusters with zstd or zlib' -r
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand convert" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand convert" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand convert" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand convert" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand clean" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand clean" -l all -d 'Remove every image, not only hidden ones and leftovers'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand clean" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s D -l directory -d 'Directory to use as the machine\'s root' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -s i -l image -d 'Raw disk image to run (GPT with DPS partitions, or a single filesystem)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -s M -l machine -d 'Image from the store to run' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l hostname -d 'Hostname inside the machine (default: the machine name)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -s E -l setenv -d 'Set an environment variable for the command' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l chdir -d 'Working directory inside the machine' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -l bind -d 'Bind-mount a host path: SRC[:DST[:rbind|norbind|idmap]] (idmap: with -U)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l bind-ro -d 'Bind-mount a host path read-only (recursively): SRC[:DST[:rbind|norbind|idmap]]' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l tmpfs -d 'Mount a tmpfs on PATH (OPTIONS default: mode=0755)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l volatile -d 'yes: tmpfs root with the image\'s /usr; state: tmpfs /var; overlay: overlayfs root with changes on a tmpfs; no (default)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l overlay -d 'Overlay mount: LOWER1[:LOWER2…]:UPPER:DEST (+PATH = inside the machine; empty UPPER = a temporary directory)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l overlay-ro -d 'Read-only overlay mount: LOWER1:LOWER2[:…]:DEST' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l inaccessible -d 'Make a path inside the machine inaccessible' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -s u -l user -l uid -d 'Run the command as this user (name or UID from the image\'s /etc/passwd)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l uuid -l machine-id -d 'Machine ID (32 hex digits or a UUID) when the image has none' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l kill-signal -d 'Signal sent to PID 1 on the first SIGINT/SIGTERM (default: SIGRTMIN+3 with --boot; otherwise the machine is killed at once)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l on-reboot -d 'What a reboot inside the machine does: restart it, or exit with status 133' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l console -d 'Console: interactive, read-only, passive, pipe or autopipe (default: autopipe = interactive on a terminal, pipe otherwise)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l notify-ready -d 'Report readiness to the service manager only when the machine does (yes), or at once (no)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l register -d 'Register the machine with systemd-machined: auto (when it is reachable on the system bus; a refusal is a warning), yes (a failure is an error) or no' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l resolv-conf -d '/etc/resolv.conf handling: off, copy-host, copy-static, copy-uplink, copy-stub, replace-*, bind-*, delete, auto' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l timezone -d '/etc/localtime handling: off, copy, bind, symlink, delete, auto' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l link-journal -d 'Journal linking: no, host, try-host, guest, try-guest, auto' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l capability -d 'Keep these capabilities in addition to the default set (names or `all`)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l drop-capability -d 'Drop these capabilities from the default set (names or `all`)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l system-call-filter -d 'Add system calls or @groups to the seccomp allow-list; with a leading ~, remove them' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l property -d 'Set a cgroup limit: MemoryMax=BYTES, TasksMax=N, CPUQuota=N% (or infinity)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l rlimit -d 'Set a resource limit: NAME=SOFT[:HARD] (e.g. NOFILE=4096:8192, CORE=infinity)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l oom-score-adjust -d 'OOM score adjustment of the payload (-1000…1000)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l cpu-affinity -d 'CPUs the payload may run on, e.g. 0,2-3' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l personality -d 'Execution domain: x86 or x86-64 (arm or arm64 on aarch64)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l no-new-privileges -d 'Set no_new_privs for the payload' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l private-users -d 'User namespace: no, yes (base from the root directory\'s owner), pick (a free 64K range), identity, or BASE[:COUNT]' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l private-users-ownership -d 'How the image\'s files get the range\'s owners: off, chown (shift once), map (idmapped mount), auto (map, else chown)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l settings -d 'Settings file NAME.nspawn (/etc/systemd/nspawn, /run/systemd/nspawn, then next to the image): yes (command line wins), no, trusted (honour privileged keys next to the image too), override (the file wins)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-bridge -d 'Attach the machine\'s veth (host side vb-NAME) to this existing bridge' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-zone -d 'Attach the machine\'s veth to the bridge vz-ZONE, made on demand' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-interface -d 'Move a host interface into the machine (back when it stops)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-macvlan -d 'A macvlan mv-IF on host interface IF, inside the machine' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-ipvlan -d 'An ipvlan iv-IF on host interface IF, inside the machine' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-veth-extra -d 'An extra veth pair: HOSTIF on the host, MACHINEIF (default HOSTIF) in the machine, both up, no addresses (implies --private-network)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-namespace-path -d 'Join this network namespace (e.g. /run/netns/NAME) instead of making one' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -s p -l port -d 'Forward a host port to the machine: [tcp|udp:]HOST[:MACHINE] (needs a veth link)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-address -d 'Addresses of the veth pair: auto (wharf picks them), none (DHCP from the host\'s network manager), or HOST/PREFIX,MACHINE (default: none when systemd-networkd runs on the host, else auto)' -r
complete -c wharf -n "__fish_wharf_using_subcommand run" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand run" -l read-only -d 'Mount the root read-only'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s x -l ephemeral -d 'Run on a throw-away snapshot (btrfs) or overlay of the image, removed on exit'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s b -l boot -d 'Boot the image\'s init system (/usr/lib/systemd/systemd, /lib/systemd/systemd or /sbin/init) as PID 1; the command line becomes its arguments'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s a -l as-pid2 -d 'Run a stub init as PID 1 and the command as PID 2'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s P -l pipe -d 'Same as --console=pipe'
complete -c wharf -n "__fish_wharf_using_subcommand run" -l keep-unit -d 'Put the machine below wharf\'s own cgroup (the unit\'s, which must delegate its subtree, e.g. wharf@.service) instead of a cgroup of its own making'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s j -d 'Same as --link-journal=try-guest'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s U -d 'Same as --private-users=pick --private-users-ownership=auto (either option, given too, wins)'
complete -c wharf -n "__fish_wharf_using_subcommand run" -l private-network -d 'Give the machine its own network namespace (only `lo` unless links are asked for)'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s n -l network-veth -d 'A veth pair: ve-NAME on the host, host0 in the machine (implies --private-network)'
complete -c wharf -n "__fish_wharf_using_subcommand run" -l network-masquerade -d 'Masquerade the machine\'s outbound IPv4 traffic behind the host\'s address'
complete -c wharf -n "__fish_wharf_using_subcommand run" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand run" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand run" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand boot" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand boot" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand boot" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand boot" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand boot" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand boot" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand boot" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand start" -l timeout -d 'Seconds to wait for the machine to report READY=1' -r
complete -c wharf -n "__fish_wharf_using_subcommand start" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand start" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand start" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand start" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand start" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand start" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand start" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand list" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand list" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand list" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand list" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand list" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand list" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand list" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand status" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand status" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand status" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand status" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand status" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand status" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand status" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -l timeout -d 'Seconds to wait for each machine to end' -r
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand poweroff" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand reboot" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand terminate" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand kill" -s s -l signal -d 'The signal (default SIGTERM)' -r
complete -c wharf -n "__fish_wharf_using_subcommand kill" -l kill-whom -d 'leader (PID 1) or all (every process of the machine)' -r
complete -c wharf -n "__fish_wharf_using_subcommand kill" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand kill" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand kill" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand kill" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand kill" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand kill" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand kill" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand shell" -s u -l user -l uid -d 'User (name or UID from the machine\'s /etc/passwd; default root)' -r
complete -c wharf -n "__fish_wharf_using_subcommand shell" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand shell" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand shell" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand shell" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand shell" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand shell" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand shell" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand login" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand login" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand login" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand login" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand login" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand login" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand login" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand copy-to" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand copy-from" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand completions" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand completions" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand completions" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand completions" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand completions" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand completions" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand completions" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l read-only -d 'Mount it read-only (recursively)'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l mkdir -d 'Create DST (and missing parents) when it does not exist'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand bind" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand enable" -l root -d 'Install below DIR instead of / (DIR/etc/systemd/system; systemd is not reloaded)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand enable" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand enable" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand enable" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand enable" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand enable" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand enable" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand enable" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand disable" -l root -d 'Act below DIR instead of / (systemd is not reloaded)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand disable" -l image-root -d 'Use only this directory as the image store (default: the machine search path, writing to /var/lib/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand disable" -l state-dir -d 'Where running machines keep their state (start, list, status, shell, poweroff, …; default /run/wharf/machines)' -r -F
complete -c wharf -n "__fish_wharf_using_subcommand disable" -l json -d 'Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)'
complete -c wharf -n "__fish_wharf_using_subcommand disable" -s q -l quiet -d 'Suppress informational messages and progress'
complete -c wharf -n "__fish_wharf_using_subcommand disable" -l no-legend -d 'Do not print the header and footer of tables'
complete -c wharf -n "__fish_wharf_using_subcommand disable" -s h -l help -d 'Print help'
complete -c wharf -n "__fish_wharf_using_subcommand disable" -s V -l version -d 'Print version'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "list-images" -d 'List images (name, type, read-only, usage, created, modified)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "image-status" -d 'Show details of images, including the OS inside'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "show-image" -d 'Show image properties as key=value lines'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "clone" -d 'Clone an image (btrfs snapshot when possible, else a reflink or full copy)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "rename" -d 'Rename an image (its sidecar files follow)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "remove" -d 'Remove images and their sidecar files'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "read-only" -d 'Mark an image read-only (default) or writable'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "set-limit" -d 'Limit the disk space of an image (or the whole pool); btrfs subvolumes only'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "import-fs" -d 'Make an image from a directory tree (snapshot or reflink where possible, else a copy)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "import-tar" -d 'Import a tar archive (gzip, xz, bzip2, zstd or plain, sniffed from its bytes) as an image'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "import-oci" -d 'Import a container image from an OCI image layout (directory or tar) or a `docker save` archive: layers applied with whiteouts, settings from the image config in NAME.nspawn'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "pull-oci" -d 'Pull a container image from a registry and import it as a machine (blobs are cached, so images sharing layers download them once)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "push" -d 'Push a machine to a registry as a one-layer image (what export-oci writes)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "export-oci" -d 'Export a machine as a one-layer OCI image into a layout directory or an OCI archive (PATH ending in .tar); the config comes from NAME.oci-config or NAME.nspawn'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "import-docker" -d 'Import the flat tar of `docker export` / `podman export` as a machine'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "export-tar" -d 'Export a directory or subvolume image as a tar archive'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "pull-tar" -d 'Download a tar archive over HTTP(S), verify it and import it as an image'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "import-raw" -d 'Import a raw disk image (plain, gzip, xz, bzip2, zstd; qcow2 is converted) as NAME.raw'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "pull-raw" -d 'Download a raw or qcow2 disk image over HTTP(S), verify it and import it'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "export-raw" -d 'Export a raw image (optionally compressed)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "convert" -d 'Convert a disk image file between qcow2 and raw'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "clean" -d 'Remove hidden images and leftovers of interrupted operations (--all: every image)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "run" -d 'Run a command inside an image in new namespaces (systemd-nspawn style)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "boot" -d 'Boot an image\'s init system (= run -b -M NAME); extra arguments go to the init'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "start" -d 'Boot an image in the background under a wharf supervisor (run options may follow NAME)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "list" -d 'List running machines (name, leader PID, OS, since)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "status" -d 'Show a running machine: leader, cgroup, processes, uptime, last console lines'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "poweroff" -d 'Power machines off (SIGRTMIN+3 to PID 1) and wait for them to end'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "reboot" -d 'Reboot machines (SIGINT to PID 1, systemd\'s ctrl-alt-del)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "terminate" -d 'Kill machines at once (every process of their cgroup)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "kill" -d 'Send a signal to machines\' processes'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "shell" -d 'Run a command (default: a login shell) inside a running machine'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "login" -d 'Log in to a running machine (its login(1) on a new pty; needs a terminal)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "copy-to" -d 'Copy a host file or directory tree into a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "copy-from" -d 'Copy a file or directory tree out of a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "completions" -d 'Print a shell completion script for wharf to standard output'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "bind" -d 'Mount a host path into a running machine (DST defaults to SRC)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "enable" -d 'Boot machines at startup with the host\'s systemd (installs wharf@.service)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "disable" -d 'Stop booting machines at startup (removes their wharf@NAME.service links)'
complete -c wharf -n "__fish_wharf_using_subcommand help; and not __fish_seen_subcommand_from list-images image-status show-image clone rename remove read-only set-limit import-fs import-tar import-oci pull-oci push export-oci import-docker export-tar pull-tar import-raw pull-raw export-raw convert clean run boot start list status poweroff reboot terminate kill shell login copy-to copy-from completions bind enable disable help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
