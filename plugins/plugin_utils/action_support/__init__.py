# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible glue the action plugins share, kept apart from the engine: task variables
in, a checked whole-inventory ``Fleet`` out; compiled hosts kept between the tasks of a
run; engine errors turned into task failures. Only ``fleet_action`` imports Ansible.
"""
