// Package disklayout is the layout of the appliance's boot disk, shared
// by the tools that build and flash the factory image and by the init that
// finds its partitions at boot:
//
//	GPT
//	 1  EFI system partition (FAT32, label mm-esp):
//	      EFI/BOOT/BOOTX64.EFI          systemd-boot
//	      loader/loader.conf
//	      EFI/Linux/multimeter-a+3.efi  slot A's unified kernel image with
//	                                    3 boot tries left (Boot Loader Spec
//	                                    boot counting)
//	 2  data partition (ext4, label mm-data): config, users, certificates
package disklayout

import "fmt"

// Partition labels (GPT partition names) and type GUIDs.
const (
	ESPLabel  = "mm-esp"
	DataLabel = "mm-data"

	ESPType  = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	DataType = "0FC63DAF-8483-4772-8E79-3D69D8477DE4" // Linux filesystem data
)

// Sizes of the factory image, in MiB. The ESP holds two slots' images
// plus room for the bootloader.
const (
	ESPSizeMiB  = 256
	DataSizeMiB = 256
	// AlignMiB is where the first partition starts; the last MiB holds
	// the backup GPT.
	AlignMiB = 1
)

// DataMountPoint is where the init mounts the data partition.
const DataMountPoint = "/perm"

// BootTries is the number of tries a freshly written slot gets before
// systemd-boot considers it bad.
const BootTries = 3

// UKIName is the file name in EFI/Linux of a slot's unified kernel image
// with tries boot attempts left.
func UKIName(slot string, tries int) string {
	return fmt.Sprintf("multimeter-%s+%d.efi", slot, tries)
}

// SlotCmdlineKey is the kernel command line parameter that names the
// slot a unified kernel image belongs to.
const SlotCmdlineKey = "multimeter.slot"
